package signals

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kuredLock is either of kured's lock annotation formats: the single lock
// (nodeID, created, TTL at the top level) or the multi-owner lock (locks).
type kuredLock struct {
	kuredLockEntry
	Locks []kuredLockEntry `json:"locks"`
}

// kuredLockEntry is one lock holder. TTL is a Go duration in nanoseconds,
// as kured marshals it; zero means the lock does not expire by itself.
type kuredLockEntry struct {
	NodeID  string        `json:"nodeID"`
	Created time.Time     `json:"created"`
	TTL     time.Duration `json:"TTL"`
}

// held says whether the entry names a node and has not outlived its TTL.
func (e kuredLockEntry) held(now time.Time) bool {
	if e.NodeID == "" {
		return false
	}
	return e.TTL <= 0 || now.Before(e.Created.Add(e.TTL))
}

// parseKuredLock returns the nodes holding the lock in value, or an error
// when value is not a lock kured could have written.
func parseKuredLock(value string, now time.Time) ([]string, error) {
	var lock *kuredLock
	dec := json.NewDecoder(strings.NewReader(value))
	if err := dec.Decode(&lock); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	if lock == nil { // "null"
		return nil, nil
	}
	var holders []string
	if lock.held(now) {
		holders = append(holders, lock.NodeID)
	}
	for _, e := range lock.Locks {
		if e.held(now) {
			holders = append(holders, e.NodeID)
		}
	}
	return sortedUnique(holders), nil
}

// detectKured implements KuredReboot from the DaemonSet lock and the
// reboot-in-progress node annotation.
func detectKured(cfg KuredConfig, s Snapshot) (*Signal, []string) {
	var parts, objects, problems []string
	namespace, name := cfg.kuredKey()
	if ds := s.KuredDaemonSet; ds != nil {
		where := namespace + "/" + name
		if ds.Name != "" {
			where = ds.Namespace + "/" + ds.Name
		}
		if value := ds.Annotations[AnnotationKuredLock]; strings.TrimSpace(value) != "" {
			holders, err := parseKuredLock(value, s.Now)
			switch {
			case err != nil:
				why := fmt.Sprintf("kured lock annotation %s on DaemonSet %s is unreadable (%v); treated as held", AnnotationKuredLock, where, err)
				parts = append(parts, why)
				problems = append(problems, why)
			case len(holders) > 0:
				parts = append(parts, fmt.Sprintf("kured reboot lock on %s held by %s", where, nameList(holders)))
				objects = append(objects, holders...)
			}
		}
	}
	var rebooting []string
	for i := range s.Nodes {
		if _, ok := s.Nodes[i].Annotations[AnnotationKuredRebootInProgress]; ok {
			rebooting = append(rebooting, s.Nodes[i].Name)
		}
	}
	if len(rebooting) > 0 {
		parts = append(parts, fmt.Sprintf("kured rebooting %s", nameList(rebooting)))
		objects = append(objects, rebooting...)
	}
	if len(parts) == 0 {
		return nil, problems
	}
	return &Signal{Type: KuredReboot, Detail: strings.Join(parts, "; "), Objects: objects}, problems
}

// detectPlans implements SystemUpgrade: Plans whose status.applying names
// nodes. A status.applying that is not a list of names but is not empty
// either counts as applying, with a problem.
func detectPlans(plans []unstructured.Unstructured) (*Signal, []string) {
	var entries, objects, problems []string
	for i := range plans {
		p := &plans[i]
		ref := p.GetNamespace() + "/" + p.GetName()
		raw, found, _ := unstructured.NestedFieldNoCopy(p.Object, "status", "applying")
		if !found || raw == nil {
			continue
		}
		var nodes []string
		switch v := raw.(type) {
		case []interface{}:
			for _, item := range v {
				if s, ok := item.(string); ok {
					nodes = append(nodes, s)
				} else if item != nil {
					nodes = append(nodes, fmt.Sprint(item))
				}
			}
			if len(v) > 0 && len(nodes) == 0 {
				problems = append(problems, fmt.Sprintf("Plan %s: status.applying has no node names; treated as applying", ref))
				entries = append(entries, ref)
				continue
			}
		case string:
			if v != "" {
				nodes = []string{v}
				problems = append(problems, fmt.Sprintf("Plan %s: status.applying is a string, not a list; treated as applying", ref))
			}
		default:
			problems = append(problems, fmt.Sprintf("Plan %s: status.applying is a %T, not a list; treated as applying", ref, v))
			entries = append(entries, ref)
			continue
		}
		nodes = sortedUnique(nodes)
		if len(nodes) == 0 {
			continue
		}
		entries = append(entries, fmt.Sprintf("%s (%s)", ref, nameList(nodes)))
		objects = append(objects, nodes...)
	}
	if len(entries) == 0 {
		return nil, problems
	}
	return &Signal{
		Type:    SystemUpgrade,
		Detail:  fmt.Sprintf("%s applying: %s", plural(len(entries), "upgrade plan"), nameList(entries)),
		Objects: objects,
	}, problems
}

// activeNodeMaintenancePhases are the NodeMaintenance phases during which
// the node is in maintenance: draining, or drained and waiting for the
// NodeMaintenance to be deleted.
var activeNodeMaintenancePhases = map[string]bool{"Running": true, "Succeeded": true}

// detectNodeMaintenances implements NodeMaintenance.
func detectNodeMaintenances(nms []unstructured.Unstructured) *Signal {
	var entries, objects []string
	for i := range nms {
		nm := &nms[i]
		phase, _, _ := unstructured.NestedString(nm.Object, "status", "phase")
		if !activeNodeMaintenancePhases[phase] {
			continue
		}
		node, _, _ := unstructured.NestedString(nm.Object, "spec", "nodeName")
		if node == "" {
			node = "NodeMaintenance " + nm.GetName()
		} else {
			objects = append(objects, node)
		}
		entry := fmt.Sprintf("%s (%s", node, phase)
		if reason, _, _ := unstructured.NestedString(nm.Object, "spec", "reason"); strings.TrimSpace(reason) != "" {
			entry += fmt.Sprintf(": %q", reasonText(reason))
		}
		entries = append(entries, entry+")")
	}
	if len(entries) == 0 {
		return nil
	}
	return &Signal{
		Type:    NodeMaintenance,
		Detail:  fmt.Sprintf("%s active: %s", plural(len(entries), "NodeMaintenance"), nameList(entries)),
		Objects: objects,
	}
}
