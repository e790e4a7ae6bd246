// Package console owns the browser console served under /console/: the
// sign-in of console users (account id, email, password), server-side
// sessions, CSRF protection, the security headers of every console
// response (a strict Content-Security-Policy among them), and its pages:
//
//   - API Authorization (SPEC §7): the testing token, v2 credentials and
//     v1 API key, with Regenerate Key behind a confirmation (pages.go);
//   - Policies: the Next Actions policies in evaluation order, created and
//     edited with a form that shows each error beside the field the
//     service names, enabled or disabled, reordered, deleted behind a
//     confirmation (policies.go);
//   - Try it, which runs Next Actions for a conversation and shows each
//     policy's state and the variables it read, and Evaluation logs
//     (evaluations.go);
//   - Context data: namespaces, sessions and properties, with deletion
//     behind a confirmation (data.go).
//
// Every page works without JavaScript. Changes made in the console
// (policies, deletions of context data) are audited before they are made.
//
// Pages are rendered on the server with html/template; the stylesheet and
// the one script are embedded (embed.FS) and served from /console/static/,
// so the console needs no network at run time and no inline script or
// style. Every view of a key and every regeneration is written to the
// audit log with the account, the console user, the time and the client
// address.
//
// Sessions live in a SessionStore: this process's memory by default, or
// Redis (RedisSessions), which the nodes of a zone share (SPEC §9).
//
// The console is a separate handler from the JSON API (tailscale's
// safeweb keeps the browser mux apart in the same way): the API mounts it
// at /console/ and wraps it only in access logging, recovery and the body
// limit.
package console
