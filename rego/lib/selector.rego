package fluxgate.lib.selector

# Label selector matching with Kubernetes semantics. A null or missing
# selector selects nothing while {} selects everything, so callers pass the
# raw selector value and let this package decide.

matches(sel, labels) if fluxgate.label_selector_matches(sel, labels)

# The matching is a Go built-in (policy/builtins.go): it runs for every
# budget, Service and workload of the namespace on every review, and Rego
# took a hundred evaluation steps for what Go does in a microsecond.
# selector_test.rego pins its semantics.

label_map(labels) := labels if is_object(labels)

else := {}

# describe renders labels as k=v pairs for messages.
describe(labels) := concat(",", [sprintf("%s=%v", [k, v]) | some k, v in label_map(labels)])
