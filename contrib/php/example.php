<?php
/*
 * example.php - limit a PHP script with floodgate: 429 Too Many Requests
 * with Retry-After when the client's bucket is empty, and RateLimit-Policy
 * and RateLimit (the IETF httpapi draft's) on every limited response.
 *
 * Put the block at the top of a script (or in a file that
 * auto_prepend_file loads).  The rule ("api" here) is one of
 * floodgate.conf(5); the key is the client's address.  Behind a reverse
 * proxy REMOTE_ADDR is the proxy's address: let the web server put the
 * client's address there (nginx: real_ip_header and set_real_ip_from;
 * Apache: mod_remoteip) rather than trusting X-Forwarded-For here.
 */
function floodgate_limit(string $rule, string $key, int $cost = 1): void
{
    try {
        $d = floodgate_allow($rule, $key, $cost);
    } catch (FloodgateException $e) {
        // Fail open: a limiter must not take the site down.  The message
        // says what is wrong (no segment, no such rule, ...).
        error_log('floodgate: ' . $e->getMessage() . '; not limited');
        return;
    }
    if ($d['shadow']) {
        return; // a rule in shadow mode: would have denied, allowed
    }
    if ($d['ratelimit'] !== null) {
        header('RateLimit-Policy: ' . $d['ratelimit_policy']);
        header('RateLimit: ' . $d['ratelimit']);
    }
    if (!$d['allowed']) {
        http_response_code(429);
        header('Retry-After: ' . max(1, $d['retry_after']));
        header('Content-Type: text/plain');
        echo "Too Many Requests\n";
        exit;
    }
}

floodgate_limit('api', $_SERVER['REMOTE_ADDR'] ?? 'unknown');

header('Content-Type: text/plain');
echo "hello\n";
