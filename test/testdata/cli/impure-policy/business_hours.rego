# METADATA
# title: Business hours only
# description: Depends on the clock, so the webhook, fluxgate check and Flux's dry run would disagree; rejected at load.
# custom:
#   id: business-hours
#   kinds: [Deployment]
package acme.policies.business_hours

deny contains "no deploys outside business hours" if {
	[hour, _, _] := time.clock([time.now_ns(), "UTC"])
	hour > 17
}
