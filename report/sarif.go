package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/policy"
)

// The SARIF subset fluxgate writes: one run, one rule per policy, one
// result per finding located at the object's file and line.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name,omitempty"`
	ShortDescription sarifMessage `json:"shortDescription"`
	FullDescription  sarifMessage `json:"fullDescription"`
	DefaultConfig    sarifConfig  `json:"defaultConfiguration"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	Physical sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

var sarifLevel = map[string]string{"deny": "error", "warn": "warning", "mutate": "note"}

func writeSARIF(w io.Writer, rep *check.Report) error {
	driver := sarifDriver{Name: "fluxgate", InformationURI: "https://github.com/fluxgate/fluxgate", Rules: []sarifRule{}}
	for _, p := range rep.Policies {
		driver.Rules = append(driver.Rules, sarifRule{
			ID: p.ID, Name: p.Title,
			ShortDescription: sarifMessage{Text: p.Title},
			FullDescription:  sarifMessage{Text: p.Description},
			DefaultConfig:    sarifConfig{Level: sarifLevel[string(p.Action)]},
		})
	}
	driver.Rules = append(driver.Rules, sarifRule{
		ID: policy.EngineID, Name: "fluxgate engine",
		ShortDescription: sarifMessage{Text: "Findings about fluxgate's own annotations"},
		FullDescription:  sarifMessage{Text: "Exemption annotations that are ignored because they lack a reason or name unknown policies."},
		DefaultConfig:    sarifConfig{Level: "warning"},
	})
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, r := range rep.Results {
		res := sarifResult{RuleID: r.Policy, Level: sarifLevel[r.Action], Message: sarifMessage{Text: objectName(r) + provenance(r) + ": " + r.Message}}
		if r.File != "" {
			loc := sarifLocation{Physical: sarifPhysical{Artifact: sarifArtifact{URI: filepath.ToSlash(r.File)}}}
			if r.Line > 0 {
				loc.Physical.Region = &sarifRegion{StartLine: r.Line}
			}
			res.Locations = []sarifLocation{loc}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}
