dnl config.m4 - the floodgate PHP extension, built with phpize (README.md).
dnl
dnl libfloodgate is found with pkg-config (floodgate.pc, installed with the
dnl library), or under --with-floodgate=DIR (DIR/include, DIR/lib); setting
dnl FLOODGATE_CFLAGS and FLOODGATE_LIBS in the environment skips both (the
dnl tree's make check builds against the uninstalled library that way).

PHP_ARG_WITH([floodgate],
  [for floodgate support],
  [AS_HELP_STRING([[--with-floodgate[=DIR]]],
    [floodgate rate limiting; DIR: libfloodgate's prefix (default: found
     with pkg-config)])],
  [yes])

if test "$PHP_FLOODGATE" != "no"; then
  if test "$PHP_FLOODGATE" != "yes"; then
    FLOODGATE_CFLAGS="-I$PHP_FLOODGATE/include"
    FLOODGATE_LIBS="-L$PHP_FLOODGATE/$PHP_LIBDIR -lfloodgate"
  else
    PKG_CHECK_MODULES([FLOODGATE], [floodgate >= 0.1.0], [],
      [AC_MSG_ERROR([libfloodgate not found by pkg-config: install it
(make install in floodgate's tree), set PKG_CONFIG_PATH to the directory
of its floodgate.pc, or give --with-floodgate=PREFIX])])
  fi

  old_CPPFLAGS=$CPPFLAGS
  CPPFLAGS="$CPPFLAGS $FLOODGATE_CFLAGS"
  AC_CHECK_HEADER([floodgate.h], [],
    [AC_MSG_ERROR([floodgate.h not found (FLOODGATE_CFLAGS: $FLOODGATE_CFLAGS)])])
  CPPFLAGS=$old_CPPFLAGS
  PHP_CHECK_LIBRARY([floodgate], [fg_allow], [],
    [AC_MSG_ERROR([libfloodgate not usable (FLOODGATE_LIBS: $FLOODGATE_LIBS)])],
    [$FLOODGATE_LIBS])

  PHP_EVAL_INCLINE([$FLOODGATE_CFLAGS])
  PHP_EVAL_LIBLINE([$FLOODGATE_LIBS], [FLOODGATE_SHARED_LIBADD])
  PHP_SUBST([FLOODGATE_SHARED_LIBADD])
  PHP_NEW_EXTENSION([floodgate], [floodgate.c policies.c], [$ext_shared], [],
    [-DZEND_ENABLE_STATIC_TSRMLS_CACHE=1])
fi
