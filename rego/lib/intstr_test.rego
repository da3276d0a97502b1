package fluxgate.lib.intstr_test

import data.fluxgate.lib.intstr

test_ints_and_percents if {
	intstr.is_int(0)
	intstr.is_int(3)
	not intstr.is_int(-1)
	not intstr.is_int(1.5)
	not intstr.is_int("1")
	intstr.is_percent("25%")
	not intstr.is_percent("25")
	not intstr.is_percent("12.5%")
	not intstr.is_percent(25)
	intstr.percent("40%") == 40
}

test_scaled_rounds_percentages_up if {
	intstr.scaled(2, 10) == 2
	intstr.scaled("50%", 3) == 2
	intstr.scaled("10%", 3) == 1
	intstr.scaled("100%", 3) == 3
	intstr.scaled("0%", 3) == 0
	intstr.scaled("25%", 4) == 1
}

test_scaled_is_undefined_for_malformed_values if {
	not intstr.scaled("a lot", 3)
	not intstr.scaled(null, 3)
	not intstr.scaled(-1, 3)
}

test_zero if {
	intstr.is_zero(0)
	intstr.is_zero("0%")
	not intstr.is_zero("0")
	not intstr.is_zero(1)
	not intstr.is_zero(null)
}

test_same_treats_zero_forms_alike if {
	intstr.same(0, "0%")
	intstr.same("0%", 0)
	intstr.same("25%", "25%")
	intstr.same(1, 1)
	not intstr.same(1, "1")
	not intstr.same("25%", 0)
}
