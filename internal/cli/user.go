package cli

// Placeholder: the SDK/CLI issue replaces this file with the user-side
// commands (login, ccs, next-actions, config).

// LoginCmd logs in and prints a token.
type LoginCmd struct{}

// Run runs the command.
func (c *LoginCmd) Run(g *Globals) error { return errNotYet }

// CCSCmd groups the context service commands.
type CCSCmd struct{}

// Run runs the command.
func (c *CCSCmd) Run(g *Globals) error { return errNotYet }

// NextActionsCmd asks for the next actions of a conversation.
type NextActionsCmd struct{}

// Run runs the command.
func (c *NextActionsCmd) Run(g *Globals) error { return errNotYet }

// ConfigCmd manages policies.
type ConfigCmd struct{}

// Run runs the command.
func (c *ConfigCmd) Run(g *Globals) error { return errNotYet }
