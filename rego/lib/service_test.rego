package fluxgate.lib.service_test

import data.fluxgate.lib.service

svc(name, selector) := {"metadata": {"name": name}, "spec": {"selector": selector}}

review(labels, services) := {
	"request": {"namespace": "team-a", "object": {"spec": {"template": {"metadata": {"labels": labels}}}}},
	"related": {"services": services},
}

test_serves_needs_every_selector_pair if {
	service.serves(svc("web", {"app": "web"}), {"app": "web", "tier": "front"})
	not service.serves(svc("web", {"app": "web", "tier": "back"}), {"app": "web", "tier": "front"})
}

test_service_without_selector_serves_nothing if {
	not service.serves(svc("ext", {}), {"app": "web"})
	not service.serves({"spec": {"type": "ExternalName"}}, {"app": "web"})
	not service.serves(svc("bad", "app=web"), {"app": "web"})
}

test_resource_services_are_named if {
	fixture := review({"app": "web"}, [svc("web", {"app": "web"}), svc("api", {"app": "api"}), svc("all", {"app": "web"})])
	service.resource_services == ["all", "web"] with input as fixture
	service.names == "team-a/all, team-a/web" with input as fixture
	service.resource_served with input as fixture
}

test_unserved_workload if {
	not service.resource_served with input as review({"app": "web"}, [svc("api", {"app": "api"})])
	not service.resource_served with input as {"request": {"object": {}}}
}

test_metrics_only_service_carries_no_traffic if {
	labels := {"app": "web"}
	scrape := {"spec": {"selector": labels, "ports": [{"name": "tcp-prometheus-servicemonitor", "port": 9402, "targetPort": "http-metrics"}]}}
	not service.serves(scrape, labels)
	by_name := {"spec": {"selector": labels, "ports": [{"name": "metrics", "port": 8080, "targetPort": 8080}]}}
	not service.serves(by_name, labels)
	mixed := {"spec": {"selector": labels, "ports": [{"name": "metrics", "port": 8080}, {"name": "https", "port": 443, "targetPort": "webhook"}]}}
	service.serves(mixed, labels)
	unnamed := {"spec": {"selector": labels, "ports": [{"port": 80}]}}
	service.serves(unnamed, labels)
	headless := {"spec": {"selector": labels, "clusterIP": "None"}}
	service.serves(headless, labels)
}
