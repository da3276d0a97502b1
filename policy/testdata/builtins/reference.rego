package reference

# The Rego implementations the Go built-ins replaced, kept as the
# reference TestBuiltinsMatchRego compares them with.

matches(sel, labels) if {
	is_object(sel)
	ls := label_map(labels)
	labels_match(object.get(sel, "matchLabels", null), ls)
	expressions_match(object.get(sel, "matchExpressions", null), ls)
}

# labels_match and expressions_match take the raw matchLabels and
# matchExpressions: absent (passed as null) and null select everything,
# a value of the wrong type selects nothing. They do what match_labels and
# match_expressions below do in fewer evaluation steps, which counts
# because matches runs for every PodDisruptionBudget of the namespace.
labels_match(null, _) := true

labels_match(m, ls) if {
	is_object(m)
	every k, v in m {
		ls[k] == v
	}
}

expressions_match(null, _) := true

expressions_match(m, ls) if {
	is_array(m)
	every expr in m {
		expression_matches(expr, ls)
	}
}

label_map(labels) := labels if is_object(labels)

else := {}

# A malformed matchLabels or matchExpressions leaves these undefined, so the
# selector matches nothing instead of silently matching too much.
match_labels(sel) := m if {
	m := object.get(sel, "matchLabels", {})
	is_object(m)
} else := {} if {
	object.get(sel, "matchLabels", {}) == null
}

match_expressions(sel) := m if {
	m := object.get(sel, "matchExpressions", [])
	is_array(m)
} else := [] if {
	object.get(sel, "matchExpressions", []) == null
}

expression_matches(expr, ls) if {
	operator(expr) == "In"
	in_values(expr, ls)
}

expression_matches(expr, ls) if {
	operator(expr) == "NotIn"
	is_array(expr.values)
	not in_values(expr, ls)
}

expression_matches(expr, ls) if {
	operator(expr) == "Exists"
	expr.key in object.keys(ls)
}

expression_matches(expr, ls) if {
	operator(expr) == "DoesNotExist"
	is_string(expr.key)
	not expr.key in object.keys(ls)
}

operator(expr) := expr.operator if is_object(expr)

in_values(expr, ls) if {
	is_array(expr.values)
	ls[expr.key] in expr.values
}

scaled(v, _) := v if {
	is_number(v)
	v >= 0
	v == floor(v)
}

scaled(v, total) := ceil((to_number(trim_suffix(v, "%")) * total) / 100) if {
	is_string(v)
	regex.match(`^[0-9]+%$`, v)
}

