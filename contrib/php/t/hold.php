<?php
// test_php.py: take a token as example.php would, say which worker holds
// the request, and keep it open until the test kills this worker
// (request_terminate_timeout ends it otherwise).
$d = floodgate_allow('api', $_SERVER['REMOTE_ADDR']);
file_put_contents($_SERVER['FG_MARK'], getmypid() . ' ' . ($d['allowed'] ? 1 : 0));
sleep(30);
