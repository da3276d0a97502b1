package fluxgate.lib.intstr

# Kubernetes IntOrString values: a non-negative integer or a whole-number
# percentage such as "25%". Anything else is malformed and makes these
# functions undefined rather than guessing.

is_int(v) if {
	is_number(v)
	v >= 0
	v == floor(v)
}

is_percent(v) if {
	is_string(v)
	regex.match(`^[0-9]+%$`, v)
}

percent(v) := to_number(trim_suffix(v, "%")) if is_percent(v)

# scaled resolves v against total. Percentages round up, as Kubernetes does
# for both minAvailable and maxUnavailable of a PodDisruptionBudget. A Go
# built-in (policy/builtins.go), as it runs for every budget on every
# review.
scaled(v, total) := fluxgate.int_or_percent_scaled(v, total)

is_zero(v) if v == 0

# A percentage is zero when all its digits are: percent(v) == 0.
is_zero(v) if {
	is_string(v)
	regex.match(`^0+%$`, v)
}

# same treats 0 and "0%" as the same budget; otherwise values must match
# exactly because "1" and 1 mean different things to the API server.
same(a, b) if a == b

same(a, b) if {
	is_zero(a)
	is_zero(b)
}
