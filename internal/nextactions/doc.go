// Package nextactions owns policies and their evaluation (SPEC §6):
// validation that names the bad field, conditions with the eight
// operators, expressions of the v2 editor's language compiled once per
// policy version with expr-lang/expr, the next actions for a
// conversation, and the evaluation log (kept seven days).
//
// Evaluation reads variables through the Variables interface, which the
// composition root backs with the Context Service (see CCSVariables);
// conversation.* and sde.* variables come from the request, custom.* from
// the account's static attributes (PutAttributes), and {{ns.var}} in
// action payloads is substituted from the same sources. The clock is
// injected.
//
// The service returns fault errors (invalid → 400, not found → 404); it
// never chooses HTTP statuses.
package nextactions
