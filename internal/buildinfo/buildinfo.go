package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Info is what the binary was built from.
type Info struct {
	// Version is the module version ("v1.2.3"), or "devel" when built
	// from a checkout.
	Version string `json:"version"`
	// Revision is the VCS revision (12 hex digits, "-dirty" when the
	// checkout was modified), "" when unknown.
	Revision string `json:"revision"`
	// GoVersion is the Go toolchain that built the binary ("go1.26.8").
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH ("linux/amd64").
	Platform string `json:"platform"`
}

// Read returns the build information of the running binary.
var Read = sync.OnceValue(func() Info {
	in := Info{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		in.Version = v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		in.Revision = rev + dirty
	}
	return in
})

// String is the version as `orchestrator version` prints it: the module
// version, or "devel" plus the revision when built from a checkout.
func (in Info) String() string {
	if in.Version == "devel" && in.Revision != "" {
		return "devel " + in.Revision
	}
	return in.Version
}

// Line is the one line of `orchestrator version` and --version:
// "orchestrator VERSION revision REV GOVERSION OS/ARCH" (REV "unknown"
// when the build recorded none, as with go build -buildvcs=false).
func (in Info) Line() string {
	rev := in.Revision
	if rev == "" {
		rev = "unknown"
	}
	return "orchestrator " + in.Version + " revision " + rev + " " + in.GoVersion + " " + in.Platform
}
