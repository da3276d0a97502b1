package fluxgate.lib.selector_test

import data.fluxgate.lib.selector

labels := {"app": "web", "tier": "frontend"}

test_match_labels_must_all_be_equal if {
	selector.matches({"matchLabels": {"app": "web"}}, labels)
	selector.matches({"matchLabels": {"app": "web", "tier": "frontend"}}, labels)
	not selector.matches({"matchLabels": {"app": "web", "tier": "backend"}}, labels)
	not selector.matches({"matchLabels": {"team": "a"}}, labels)
}

test_empty_selector_matches_everything if {
	selector.matches({}, labels)
	selector.matches({}, {})
	selector.matches({"matchLabels": null, "matchExpressions": null}, labels)
}

test_missing_selector_matches_nothing if {
	not selector.matches(null, labels)
	not selector.matches("app=web", labels)
}

test_malformed_selector_matches_nothing if {
	not selector.matches({"matchLabels": ["app"]}, labels)
	not selector.matches({"matchExpressions": {"key": "app"}}, labels)
	not selector.matches({"matchExpressions": ["app"]}, labels)
}

expr(key, operator, values) := {"matchExpressions": [{"key": key, "operator": operator, "values": values}]}

test_in if {
	selector.matches(expr("app", "In", ["web", "api"]), labels)
	not selector.matches(expr("app", "In", ["api"]), labels)
	not selector.matches(expr("team", "In", ["a"]), labels)
}

test_not_in if {
	selector.matches(expr("app", "NotIn", ["api"]), labels)
	selector.matches(expr("team", "NotIn", ["a"]), labels)
	not selector.matches(expr("app", "NotIn", ["web"]), labels)
}

test_exists if {
	selector.matches({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, labels)
	not selector.matches({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, labels)
}

test_does_not_exist if {
	selector.matches({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, labels)
	not selector.matches({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels)
}

test_unknown_operator_matches_nothing if {
	not selector.matches(expr("app", "Gt", ["1"]), labels)
}

test_labels_and_expressions_combine if {
	sel := {
		"matchLabels": {"app": "web"},
		"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}],
	}
	selector.matches(sel, labels)
	not selector.matches(sel, {"app": "web", "tier": "backend"})
}

test_missing_labels_only_match_label_free_selectors if {
	selector.matches({}, null)
	not selector.matches({"matchLabels": {"app": "web"}}, null)
	selector.matches(expr("app", "NotIn", ["web"]), null)
}

test_describe if {
	selector.describe(labels) == "app=web,tier=frontend"
	selector.describe(null) == ""
}
