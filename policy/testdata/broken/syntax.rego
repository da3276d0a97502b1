# METADATA
# custom:
#   id: broken-syntax
#   kinds: [Deployment]
package test.broken_syntax

deny contains msg if {
	msg := "unterminated
}
