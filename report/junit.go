package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/fluxgate/fluxgate/check"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test case per policy that found something about an
// object: denials fail it, warnings and mutations pass with their text in
// system-out. A clean check is one passing case, so CI views never show an
// empty suite.
func writeJUnit(w io.Writer, rep *check.Report) error {
	suite := junitSuite{Name: "fluxgate"}
	order, groups := byObject(rep)
	for _, key := range order {
		perPolicy := map[string][]check.Result{}
		var policies []string
		for _, r := range groups[key] {
			if _, ok := perPolicy[r.Policy]; !ok {
				policies = append(policies, r.Policy)
			}
			perPolicy[r.Policy] = append(perPolicy[r.Policy], r)
		}
		for _, p := range policies {
			rs := perPolicy[p]
			c := junitCase{Name: objectName(rs[0]) + provenance(rs[0]), Classname: p, File: location(rs[0])}
			var denies, others []string
			for _, r := range rs {
				if r.Action == "deny" {
					denies = append(denies, r.Message)
				} else {
					others = append(others, strings.ToUpper(r.Action)+": "+r.Message)
				}
			}
			if len(denies) > 0 {
				c.Failure = &junitFailure{Message: denies[0], Type: "deny", Text: strings.Join(denies, "\n")}
				suite.Failures++
			}
			c.SystemOut = strings.Join(others, "\n")
			suite.Cases = append(suite.Cases, c)
		}
	}
	if len(suite.Cases) == 0 {
		suite.Cases = append(suite.Cases, junitCase{Name: fmt.Sprintf("%d objects", rep.Summary.Objects), Classname: "fluxgate"})
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
