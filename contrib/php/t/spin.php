<?php
// test_php.py: check new keys in a loop (each one an insert, evicting the
// full buckets of earlier ones) until the test kills this worker; the
// mark says the loop is running.
for ($i = 0; $i < 100000000; $i++) {
    floodgate_allow('spin', 'k' . $i);
    if ($i === 2000) {
        file_put_contents($_SERVER['FG_MARK'], (string)getmypid());
    }
}
