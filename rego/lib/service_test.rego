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
