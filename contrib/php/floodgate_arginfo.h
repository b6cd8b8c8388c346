/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: 9b679f902ff62a55a350aa55f86053f1d3e2e3a4 */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_floodgate_allow, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, rule, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, cost, IS_LONG, 0, "1")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_floodgate_allow_many, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, checks, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

#define arginfo_floodgate_reserve arginfo_floodgate_allow

#define arginfo_floodgate_reserve_many arginfo_floodgate_allow_many

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_floodgate_acquire, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, rule, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_FloodgateLease_release, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()


ZEND_FUNCTION(floodgate_allow);
ZEND_FUNCTION(floodgate_allow_many);
ZEND_FUNCTION(floodgate_reserve);
ZEND_FUNCTION(floodgate_reserve_many);
ZEND_FUNCTION(floodgate_acquire);
ZEND_METHOD(FloodgateLease, release);


static const zend_function_entry ext_functions[] = {
	ZEND_FE(floodgate_allow, arginfo_floodgate_allow)
	ZEND_FE(floodgate_allow_many, arginfo_floodgate_allow_many)
	ZEND_FE(floodgate_reserve, arginfo_floodgate_reserve)
	ZEND_FE(floodgate_reserve_many, arginfo_floodgate_reserve_many)
	ZEND_FE(floodgate_acquire, arginfo_floodgate_acquire)
	ZEND_FE_END
};


static const zend_function_entry class_FloodgateLease_methods[] = {
	ZEND_ME(FloodgateLease, release, arginfo_class_FloodgateLease_release, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};


static const zend_function_entry class_FloodgateException_methods[] = {
	ZEND_FE_END
};

static zend_class_entry *register_class_FloodgateLease(void)
{
	zend_class_entry ce, *class_entry;

	INIT_CLASS_ENTRY(ce, "FloodgateLease", class_FloodgateLease_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
	class_entry->ce_flags |= ZEND_ACC_FINAL;

	return class_entry;
}

static zend_class_entry *register_class_FloodgateException(zend_class_entry *class_entry_RuntimeException)
{
	zend_class_entry ce, *class_entry;

	INIT_CLASS_ENTRY(ce, "FloodgateException", class_FloodgateException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_RuntimeException);
	class_entry->ce_flags |= ZEND_ACC_FINAL;

	zval const_EINVAL_value;
	ZVAL_LONG(&const_EINVAL_value, FG_EINVAL);
	zend_string *const_EINVAL_name = zend_string_init_interned("EINVAL", sizeof("EINVAL") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EINVAL_name, &const_EINVAL_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EINVAL_name);

	zval const_EKEY_value;
	ZVAL_LONG(&const_EKEY_value, FG_EKEY);
	zend_string *const_EKEY_name = zend_string_init_interned("EKEY", sizeof("EKEY") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EKEY_name, &const_EKEY_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EKEY_name);

	zval const_EKEYLEN_value;
	ZVAL_LONG(&const_EKEYLEN_value, FG_EKEYLEN);
	zend_string *const_EKEYLEN_name = zend_string_init_interned("EKEYLEN", sizeof("EKEYLEN") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EKEYLEN_name, &const_EKEYLEN_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EKEYLEN_name);

	zval const_ENORULE_value;
	ZVAL_LONG(&const_ENORULE_value, FG_ENORULE);
	zend_string *const_ENORULE_name = zend_string_init_interned("ENORULE", sizeof("ENORULE") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ENORULE_name, &const_ENORULE_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ENORULE_name);

	zval const_ECOST_value;
	ZVAL_LONG(&const_ECOST_value, FG_ECOST);
	zend_string *const_ECOST_name = zend_string_init_interned("ECOST", sizeof("ECOST") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ECOST_name, &const_ECOST_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ECOST_name);

	zval const_ENOSEG_value;
	ZVAL_LONG(&const_ENOSEG_value, FG_ENOSEG);
	zend_string *const_ENOSEG_name = zend_string_init_interned("ENOSEG", sizeof("ENOSEG") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ENOSEG_name, &const_ENOSEG_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ENOSEG_name);

	zval const_EACCES_value;
	ZVAL_LONG(&const_EACCES_value, FG_EACCES);
	zend_string *const_EACCES_name = zend_string_init_interned("EACCES", sizeof("EACCES") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EACCES_name, &const_EACCES_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EACCES_name);

	zval const_EBADSEG_value;
	ZVAL_LONG(&const_EBADSEG_value, FG_EBADSEG);
	zend_string *const_EBADSEG_name = zend_string_init_interned("EBADSEG", sizeof("EBADSEG") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EBADSEG_name, &const_EBADSEG_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EBADSEG_name);

	zval const_EVERSION_value;
	ZVAL_LONG(&const_EVERSION_value, FG_EVERSION);
	zend_string *const_EVERSION_name = zend_string_init_interned("EVERSION", sizeof("EVERSION") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_EVERSION_name, &const_EVERSION_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_EVERSION_name);

	zval const_ENOMEM_value;
	ZVAL_LONG(&const_ENOMEM_value, FG_ENOMEM);
	zend_string *const_ENOMEM_name = zend_string_init_interned("ENOMEM", sizeof("ENOMEM") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ENOMEM_name, &const_ENOMEM_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ENOMEM_name);

	zval const_ESYS_value;
	ZVAL_LONG(&const_ESYS_value, FG_ESYS);
	zend_string *const_ESYS_name = zend_string_init_interned("ESYS", sizeof("ESYS") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ESYS_name, &const_ESYS_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ESYS_name);

	zval const_ENAME_value;
	ZVAL_LONG(&const_ENAME_value, FG_ENAME);
	zend_string *const_ENAME_name = zend_string_init_interned("ENAME", sizeof("ENAME") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_ENAME_name, &const_ENAME_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_ENAME_name);

	return class_entry;
}
