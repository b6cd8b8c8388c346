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

/**
 * One request under up to 8 rules at once, all or none: $checks is a list
 * of [rule, key] or [rule, key, cost].  The decision is the denying rule's
 * (the longest retry_after) or, allowed, the one with the fewest tokens
 * left; which is its position in $checks.
 *
 * @param array $checks list of [rule, key] or [rule, key, cost]
 * @return array{allowed: bool, limit: int, remaining: int,
 *               retry_after_ms: int, retry_after: int, reset_ms: int,
 *               reset: int, shadow: bool, untracked: bool, rule: int,
 *               ratelimit_policy: ?string, ratelimit: ?string, which: int}
 * @throws FloodgateException
 */
function floodgate_allow_many(array $checks): array {}

/**
 * Take $cost tokens now, to be used after delay_ns (0: at once) when the
 * rule's max-delay allows; beyond it, allowed is false and nothing was
 * taken.
 *
 * @return array{allowed: bool, delay_ns: int, delay: float, limit: int,
 *               remaining: int, retry_after_ms: int, retry_after: int,
 *               reset_ms: int, reset: int, shadow: bool, untracked: bool,
 *               rule: int, ratelimit_policy: ?string, ratelimit: ?string}
 * @throws FloodgateException
 */
function floodgate_reserve(string $rule, string $key, int $cost = 1): array {}

/**
 * floodgate_reserve() under up to 8 rules, all or none: the request goes
 * after the longest of their waits, each within its rule's max-delay.
 *
 * @param array $checks list of [rule, key] or [rule, key, cost]
 * @return array{allowed: bool, delay_ns: int, delay: float, which: int}
 * @throws FloodgateException
 */
function floodgate_reserve_many(array $checks): array {}

/**
 * Take one of the leases of ($rule, $key), an in-flight rule.  lease is a
 * FloodgateLease (null when denied), given back by its release() or,
 * at the latest, when PHP frees it (the end of the request, however the
 * request ends).
 *
 * @return array{allowed: bool, limit: int, remaining: int,
 *               retry_after_ms: int, retry_after: int, reset_ms: int,
 *               reset: int, lease: ?FloodgateLease}
 * @throws FloodgateException
 */
function floodgate_acquire(string $rule, string $key): array {}

/** A lease of an in-flight rule (floodgate_acquire()). */
final class FloodgateLease
{
    /** Give the lease back: true once, false when it held nothing. */
    public function release(): bool {}
}

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
