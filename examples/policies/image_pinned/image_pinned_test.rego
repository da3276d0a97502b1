package acme.policies.image_pinned_test

import data.acme.policies.image_pinned

review(images) := {
	"request": {
		"operation": "CREATE",
		"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
		"namespace": "shop",
		"name": "web",
		"object": {
			"metadata": {"name": "web", "namespace": "shop"},
			"spec": {"template": {"spec": {"containers": [{"name": sprintf("c%d", [i]), "image": img} | some i, img in images]}}},
		},
	},
	"parameters": {"allowedRegistries": []},
}

test_tag_and_digest_are_pinned if {
	count(image_pinned.deny) == 0 with input as review([
		"ghcr.io/acme/web:1.4.2",
		"registry.local:5000/acme/web:2.0",
		"ghcr.io/acme/web@sha256:0123456789abcdef",
	])
}

test_latest_is_denied if {
	image_pinned.deny == {`Deployment shop/web: container "c0" uses image "ghcr.io/acme/web:latest", which moves; name a version tag or a digest (e.g. ghcr.io/acme/web:1.2.3)`} with input as review(["ghcr.io/acme/web:latest"])
}

test_untagged_is_denied_even_with_a_registry_port if {
	count(image_pinned.deny) == 1 with input as review(["registry.local:5000/acme/web"])
}

test_registry_allow_list if {
	msgs := image_pinned.deny with input as object.union(review(["docker.io/library/nginx:1.27", "ghcr.io/acme/web:1.0"]), {"parameters": {"allowedRegistries": ["ghcr.io/acme/"]}})
	msgs == {`Deployment shop/web: container "c0" pulls from outside the allowed registries ["ghcr.io/acme/"]: "docker.io/library/nginx:1.27"`}
}

test_delete_is_ignored if {
	count(image_pinned.deny) == 0 with input as object.union(review(["web:latest"]), {"request": {"operation": "DELETE"}})
}
