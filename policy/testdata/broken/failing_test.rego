package test.failing_test

test_fails if {
	1 == 2
}

test_passes if {
	1 == 1
}
