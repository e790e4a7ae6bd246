package wire

import "time"

// Account is an account as the operator API answers it (SPEC §2), with
// its secrets only in the answer that created them (APIKey, Credentials,
// ConsoleUser) and its last uses only in GET /admin/v1/accounts/{id}.
type Account struct {
	AccountID   string        `json:"accountId"`
	Name        string        `json:"name"`
	AuthVersion string        `json:"authVersion"`
	Zone        string        `json:"zone"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpgradedAt  *time.Time    `json:"upgradedAt,omitempty"`
	APIKey      string        `json:"apiKey,omitempty"`
	Credentials *Credentials  `json:"credentials,omitempty"`
	ConsoleUser *ConsoleLogin `json:"consoleUser,omitempty"`
	// The last uses (absent: never used, or not yet written, which
	// happens at most a minute after the use): of the current v1 key, of
	// the keys still in the grace of a regeneration, and of the v2
	// credentials (a login, token, introspection or revocation request
	// that authenticated with them).
	APIKeyLastUsedAt      *time.Time `json:"apiKeyLastUsedAt,omitempty"`
	GraceAPIKeys          []KeyUse   `json:"graceApiKeys,omitempty"`
	CredentialsLastUsedAt *time.Time `json:"credentialsLastUsedAt,omitempty"`
}

// Credentials is a v2 user ID and password.
type Credentials struct {
	UserID   string `json:"userId"`
	Password string `json:"password"`
}

// ConsoleLogin is a console user's email and (only when generated)
// password.
type ConsoleLogin struct {
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
}

// KeyUse is an API key of an account as the operator sees it (no
// secret): when it was created, when it retires (zero: current), and
// when it was last used.
type KeyUse struct {
	CreatedAt  time.Time  `json:"createdAt"`
	RetiresAt  time.Time  `json:"retiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// CreateAccount is the body of POST /admin/v1/accounts.
type CreateAccount struct {
	Name         string `json:"name"`
	ID           string `json:"id,omitempty"`
	AuthVersion  string `json:"authVersion,omitempty"`
	ConsoleEmail string `json:"consoleEmail,omitempty"`
	// APIKey and Credentials, when set, import an existing tenant's v1
	// key and v2 credentials instead of generating them (SPEC §2), so
	// that its clients keep working unchanged.
	APIKey      string       `json:"apiKey,omitempty"`
	Credentials *Credentials `json:"credentials,omitempty"`
}

// AuditEntry is one entry of the operator's audit lists
// (GET /admin/v1/accounts/{id}/audit, GET /admin/v1/audit).
type AuditEntry struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Address string    `json:"address"`
}
