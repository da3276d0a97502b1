package test.min_replicas_test

import data.test.min_replicas

test_one_replica_denied if {
	min_replicas.deny == {"web has 1 replicas, want 2"} with input as {
		"request": {"operation": "CREATE", "name": "web", "object": {"spec": {"replicas": 1}}},
		"parameters": {"min": 2},
	}
}

test_two_replicas_allowed if {
	count(min_replicas.deny) == 0 with input as {
		"request": {"operation": "CREATE", "name": "web", "object": {"spec": {"replicas": 2}}},
		"parameters": {"min": 2},
	}
}
