package scenario

import (
	"fmt"
	"strings"
)

// App is one workload of the fleet: a Deployment rolled out with
// maxSurge 25% / maxUnavailable 0 and a PDB allowing one pod down.
type App struct {
	Name     string
	Replicas int
}

// Team owns a namespace of apps, delivered by one Kustomization.
type Team struct {
	Name string
	Apps []App
}

// Namespace is the team's namespace.
func (t Team) Namespace() string { return "team-" + t.Name }

// Path is the team's folder in the Git repository.
func (t Team) Path() string { return "teams/" + t.Name }

// Fleet is what the Git repository delivers.
type Fleet []Team

// NewFleet returns teams × appsPerTeam apps with 2 to 10 replicas.
func NewFleet(teams, appsPerTeam int) Fleet {
	var f Fleet
	for i := range teams {
		t := Team{Name: string(rune('a' + i))}
		for j := range appsPerTeam {
			t.Apps = append(t.Apps, App{
				Name:     fmt.Sprintf("app-%d", j+1),
				Replicas: 2 + (i*appsPerTeam+j)*3%9,
			})
		}
		f = append(f, t)
	}
	return f
}

// Apps counts the apps.
func (f Fleet) Apps() int {
	n := 0
	for _, t := range f {
		n += len(t.Apps)
	}
	return n
}

// Files renders the repository tree with every app at version.
func (f Fleet) Files(version string) map[string]string {
	files := map[string]string{}
	for _, t := range f {
		files[t.Path()+"/namespace.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", t.Namespace())
		for _, a := range t.Apps {
			files[t.Path()+"/"+a.Name+".yaml"] = appManifest(t.Namespace(), a, version)
		}
	}
	return files
}

// appManifest is a Deployment that passes every built-in policy, with its
// PDB. minReadySeconds makes a rollout's steps visible (kwok pods are
// ready at once).
func appManifest(ns string, a App, version string) string {
	// Longer placeholders first: comparisons go in argument order.
	r := strings.NewReplacer("$namespace", ns, "$name", a.Name, "$replicas", fmt.Sprint(a.Replicas), "$version", version)
	return r.Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  namespace: $namespace
  labels:
    app.kubernetes.io/name: $name
spec:
  replicas: $replicas
  minReadySeconds: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: $name
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: $name
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: web
          image: registry.example/$name:$version
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
          lifecycle:
            preStop:
              sleep:
                seconds: 5
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: $name
  namespace: $namespace
spec:
  maxUnavailable: 1
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      app.kubernetes.io/name: $name
`)
}
