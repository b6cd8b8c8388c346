<?php
// the benchmark's baseline: example.php without the check
header('Content-Type: text/plain');
echo "hello\n";
