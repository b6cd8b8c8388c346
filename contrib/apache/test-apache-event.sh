#!/bin/sh
# SPDX-License-Identifier: ISC
# test-apache-event.sh - test-apache.sh under the threaded event MPM: a
# child's threads share one handle under mod_floodgate's mutex, and every
# count (exact admissions, in-flight places given back at the end of a
# request or when its client goes away, delays) must be the same.
srcdir=${srcdir:-.}
FG_APACHE_MPM=event
export FG_APACHE_MPM
exec sh "$srcdir/contrib/apache/test-apache.sh" "$@"
