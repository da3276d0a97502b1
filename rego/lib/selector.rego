package fluxgate.lib.selector

# Label selector matching with Kubernetes semantics. A null or missing
# selector selects nothing while {} selects everything, so callers pass the
# raw selector value and let this package decide.

matches(sel, labels) if {
	is_object(sel)
	ls := label_map(labels)
	every k, v in match_labels(sel) {
		ls[k] == v
	}
	every expr in match_expressions(sel) {
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

# describe renders labels as k=v pairs for messages.
describe(labels) := concat(",", [sprintf("%s=%v", [k, v]) | some k, v in label_map(labels)])
