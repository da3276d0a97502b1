# METADATA
# title: Team label
# description: A second test policy, warn by default, that reads the label the first one adds.
# custom:
#   id: team-label
#   action: warn
#   kinds: [Deployment, StatefulSet]
package test.team_label

deny contains "team label is unknown" if input.request.object.metadata.labels.team == "unknown"
