<?php

/**
 * @generate-class-entries
 * @undocumentable
 */

/**
 * Take $cost tokens from the bucket of ($rule, $key) in the floodgate
 * segment named by the floodgate.segment ini setting.
 *
 * ratelimit_policy and ratelimit are the values of the HTTP headers
 * RateLimit-Policy and RateLimit (null when the rule was withdrawn since).
 *
 * @return array{allowed: bool, limit: int, remaining: int,
 *               retry_after_ms: int, retry_after: int, reset_ms: int,
 *               reset: int, shadow: bool, untracked: bool, rule: int,
 *               ratelimit_policy: ?string, ratelimit: ?string}
 * @throws FloodgateException
 */
function floodgate_allow(string $rule, string $key, int $cost = 1): array {}

/** A libfloodgate error: getCode() is the negative FG_E* code. */
final class FloodgateException extends RuntimeException
{
    /**
     * @var int
     * @cvalue FG_EINVAL
     */
    public const EINVAL = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_EKEY
     */
    public const EKEY = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_EKEYLEN
     */
    public const EKEYLEN = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ENORULE
     */
    public const ENORULE = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ECOST
     */
    public const ECOST = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ENOSEG
     */
    public const ENOSEG = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_EACCES
     */
    public const EACCES = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_EBADSEG
     */
    public const EBADSEG = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_EVERSION
     */
    public const EVERSION = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ENOMEM
     */
    public const ENOMEM = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ESYS
     */
    public const ESYS = UNKNOWN;
    /**
     * @var int
     * @cvalue FG_ENAME
     */
    public const ENAME = UNKNOWN;
}
