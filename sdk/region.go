package sdk

import "slices"

// Region is one zone of Conversation Orchestrator and its default base
// URLs.
type Region struct {
	// Zone is z1, z2 or z3.
	Zone string
	// Name is AMERICAS, EMEA or APAC.
	Name string
	// BaseURL serves v2 (login, CCS v2, Next Actions v2, policies).
	BaseURL string
	// V1BaseURL serves the v1 APIs (maven-api-key).
	V1BaseURL string
	// NextActionsV1BaseURL serves v1 Next Actions, which LivePerson runs
	// on a host of its own (askmaven), apart from the v1 Context Service.
	NextActionsV1BaseURL string
}

var regions = []Region{
	{Zone: "z1", Name: "AMERICAS", BaseURL: "https://z1.ccs.liveperson.net", V1BaseURL: "https://z1.context.liveperson.net",
		NextActionsV1BaseURL: "https://z1.askmaven.liveperson.net"},
	{Zone: "z2", Name: "EMEA", BaseURL: "https://z2.ccs.liveperson.net", V1BaseURL: "https://z2.context.liveperson.net",
		NextActionsV1BaseURL: "https://z2.askmaven.liveperson.net"},
	{Zone: "z3", Name: "APAC", BaseURL: "https://z3.ccs.liveperson.net", V1BaseURL: "https://z3.context.liveperson.net",
		NextActionsV1BaseURL: "https://z3.askmaven.liveperson.net"},
}

// Regions returns the region table (SPEC §8).
func Regions() []Region { return slices.Clone(regions) }

// LookupRegion returns the region of a zone (z1, z2 or z3).
func LookupRegion(zone string) (Region, bool) {
	for _, r := range regions {
		if r.Zone == zone {
			return r, true
		}
	}
	return Region{}, false
}
