package nextactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/wire"
)

// Reasons a v1 evaluation matched nothing.
const (
	NoMatchedRules    = "NO_MATCHED_RULES"
	NoPoliciesEnabled = "NO_POLICIES_ENABLED"
)

// LogRetention is how long evaluation log entries are kept.
const LogRetention = 7 * 24 * time.Hour

// MaxEvalTimeout is the longest an evaluation runs (SPEC §6: "never runs
// longer than 1 s").
const MaxEvalTimeout = time.Second

// DefaultCacheBytes is the default of Config.CacheBytes.
const DefaultCacheBytes = 32 << 20

// MaxLogEntries bounds one answer of Logs.
const MaxLogEntries = 10_000

// Bounds of the evaluation log.
//
// Security: 4 clients looping evaluations of 500 never-matching policies
// wrote ~2 M rows (+183 MiB) in 20 s, and another tenant's read of its log
// waited 48 s for that backlog to be written first.
const (
	// MaxLogPerAccount is how many entries an account's log keeps: the
	// newest (older ones are deleted as new ones are written).
	MaxLogPerAccount = 100_000
	// MaxLogPerEvaluation is how many entries one evaluation logs: the
	// matched policy and those that failed (ERROR, INVALID) first, then
	// those that did not match (FALSE), then disabled ones, each in
	// policy order.
	MaxLogPerEvaluation = 50
	// MaxFlushWait is how long a read of the log waits for the entries
	// queued before it to be written; under a flood it answers with
	// what is written by then.
	MaxFlushWait = 250 * time.Millisecond
)

// MaxNamesPerNamespace is how many variables of one namespace the enabled
// policies of an account may read (what one read of the Context Service
// may select, ccs.MaxSelect); past it, the policies that read that
// namespace are ERROR.
const MaxNamesPerNamespace = ccs.MaxSelect

// Variables reads context variables: the live properties named of one
// session document, as name → JSON value. Missing properties are absent
// from the map. Evaluation asks for at most MaxNamesPerNamespace names.
type Variables interface {
	Get(ctx context.Context, accountID, namespace, sessionID string, names []string) (map[string][]byte, error)
}

// Config configures a Service.
type Config struct {
	// Now is the clock (nil: time.Now): time ranges and log times use it.
	Now func() time.Time
	// Log receives background failures (nil: slog.Default()).
	Log *slog.Logger
	// EvalTimeout bounds one evaluation with its context reads (default
	// and at most 1 s, SPEC §6); past it the evaluation stops with
	// ErrTooExpensive. The work of an evaluation is bounded by EvalBudget
	// as well, each expression by its size (MaxExpressionNodes) and the
	// VM's memory budget.
	EvalTimeout time.Duration
	// PurgeEvery is the pause between purges of old log entries
	// (default 10 min); PurgeBatch the entries deleted per write
	// transaction (default 1000).
	PurgeEvery time.Duration
	PurgeBatch int
	// CacheBytes bounds the approximate heap of the compiled policies
	// kept in memory (default DefaultCacheBytes); one revision of each
	// policy is kept, and policies evicted are compiled again on use.
	CacheBytes int
	// LogQueue is how many evaluations may wait to be logged (default
	// 1024, so at most 1024 × MaxLogPerEvaluation entries); beyond it,
	// log entries are dropped rather than slowing evaluations down.
	LogQueue int
	// OnPurge, when set, is told of each purge run of Run and of the log
	// entries it deleted (for the metrics).
	OnPurge func(rows int)
}

// Service manages an account's policies and evaluates them. It is safe
// for concurrent use. Evaluation logs are written by Run in the
// background; without Run they are written synchronously.
type Service struct {
	store Store
	vars  Variables
	cfg   Config
	cache *cache
	attrs *attrCache

	logq    chan []storage.PolicyEvaluation
	flushq  chan chan struct{}
	running chan struct{} // closed when Run starts
	stopped chan struct{} // closed when Run returns
}

// Store is what the service keeps: policies, their evaluation log and
// the accounts' static attributes.
type Store interface {
	storage.Policies
	storage.Attributes
}

// New returns a service over store, reading variables from vars.
func New(store Store, vars Variables, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.EvalTimeout <= 0 || cfg.EvalTimeout > MaxEvalTimeout {
		cfg.EvalTimeout = MaxEvalTimeout
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = 10 * time.Minute
	}
	if cfg.PurgeBatch <= 0 {
		cfg.PurgeBatch = 1000
	}
	if cfg.LogQueue <= 0 {
		cfg.LogQueue = 1024
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	return &Service{
		store: store, vars: vars, cfg: cfg, cache: newCache(uint64(cfg.CacheBytes)),
		attrs:   newAttrCache(uint64(cfg.CacheBytes)),
		logq:    make(chan []storage.PolicyEvaluation, cfg.LogQueue),
		flushq:  make(chan chan struct{}),
		running: make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// ---- configuration ----

// Create validates p and appends it to the account's policies. An empty
// p.ID gets a new UUID.
func (s *Service) Create(ctx context.Context, accountID string, p Policy) (Policy, error) {
	if p.ID == "" {
		p.ID = uuid.NewString()
	} else if err := checkID("policy.id", p.ID); err != nil {
		return Policy{}, err
	}
	c, err := Compile("policy", p)
	if err != nil {
		return Policy{}, err
	}
	rec, err := s.record(accountID, c.Policy)
	if err != nil {
		return Policy{}, err
	}
	rec.CreatedAt = rec.UpdatedAt
	rec, err = s.store.CreatePolicy(ctx, rec, MaxPoliciesPerAccnt)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return Policy{}, fault.Conflict("policy.id: a policy with id %q exists", p.ID)
	case errors.Is(err, storage.ErrConflict):
		return Policy{}, fault.Conflict("an account has at most %d policies", MaxPoliciesPerAccnt)
	case err != nil:
		return Policy{}, err
	}
	s.cache.put(rec, c)
	return c.Policy, nil
}

// Update validates p and replaces the account's policy p.ID with it,
// atomically and in the same place of the order.
func (s *Service) Update(ctx context.Context, accountID string, p Policy) (Policy, error) {
	if p.ID == "" {
		return Policy{}, fault.Invalid("policy.id: required")
	}
	if err := checkID("policy.id", p.ID); err != nil {
		return Policy{}, err
	}
	c, err := Compile("policy", p)
	if err != nil {
		return Policy{}, err
	}
	rec, err := s.record(accountID, c.Policy)
	if err != nil {
		return Policy{}, err
	}
	rec, err = s.store.UpdatePolicy(ctx, rec)
	if errors.Is(err, storage.ErrNotFound) {
		return Policy{}, fault.NotFound("policy %q not found", p.ID)
	}
	if err != nil {
		return Policy{}, err
	}
	s.cache.put(rec, c)
	return c.Policy, nil
}

// Delete deletes one policy.
func (s *Service) Delete(ctx context.Context, accountID, id string) error {
	if id == "" {
		return fault.Invalid("id: required")
	}
	err := s.store.DeletePolicy(ctx, accountID, id)
	s.cache.drop(accountID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return fault.NotFound("policy %q not found", printable(id))
	}
	return err
}

// Move moves one policy a place earlier (up) or later in the evaluation
// order; at either end it stays.
func (s *Service) Move(ctx context.Context, accountID, id string, up bool) error {
	err := s.store.MovePolicy(ctx, accountID, id, up)
	if errors.Is(err, storage.ErrNotFound) {
		return fault.NotFound("policy %q not found", printable(id))
	}
	return err
}

// Get returns one policy.
func (s *Service) Get(ctx context.Context, accountID, id string) (Policy, error) {
	rec, err := s.store.GetPolicy(ctx, accountID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Policy{}, fault.NotFound("policy %q not found", printable(id))
	}
	if err != nil {
		return Policy{}, err
	}
	return decodePolicy(rec)
}

// List returns the account's policies in evaluation order.
func (s *Service) List(ctx context.Context, accountID string) ([]Policy, error) {
	recs, err := s.store.ListPolicies(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]Policy, 0, len(recs))
	for _, r := range recs {
		p, err := decodePolicy(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// checkID validates a client-chosen policy id: 1 to 64 characters of
// A-Z, a-z, 0-9, '-', '_' and '.'.
func checkID(field, id string) error {
	ok := len(id) > 0 && len(id) <= 64
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return fault.Invalid("%s: must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'", field)
	}
	return nil
}

// record is the stored form of a normalized policy, with a new revision.
func (s *Service) record(accountID string, p Policy) (storage.Policy, error) {
	id := p.ID
	p.ID = "" // the record's key, not part of the body
	body, err := json.Marshal(p)
	if err != nil {
		return storage.Policy{}, err
	}
	return storage.Policy{AccountID: accountID, ID: id, Revision: uuid.NewString(), Body: body, UpdatedAt: s.cfg.Now()}, nil
}

func decodePolicy(r storage.Policy) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return Policy{}, fmt.Errorf("policy %s/%s: %w", r.AccountID, r.ID, err)
	}
	p.ID = r.ID
	if p.Conditions == nil {
		p.Conditions = []Condition{}
	}
	return p, nil
}

// compiled returns the compiled form of a stored policy, compiling it
// once per revision. A stored policy that no longer compiles (for example
// after a rule got stricter) is returned as Invalid.
func (s *Service) compiled(r storage.Policy) *Compiled {
	if c, ok := s.cache.get(r); ok {
		return c
	}
	p, err := decodePolicy(r)
	var c *Compiled
	if err == nil {
		c, err = Compile("policy", p)
	}
	if err != nil {
		c = Invalid(p, err)
		c.Policy.ID = r.ID
	}
	s.cache.put(r, c)
	return c
}

// ---- evaluation ----

// Request asks for the next actions of a conversation.
type Request struct {
	AccountID      string
	ConversationID string
	// SessionID is the Context Service session of the variables; empty:
	// ConversationID; both empty: namespace level only.
	SessionID  string
	ConsumerID string
	GroupID    string
	CustomerID string
	VisitorID  string
	// PolicyID, when set, evaluates that policy alone.
	PolicyID string
	// Conversation and SDE are the v2 body's "conversation" and "sde"
	// objects (decoded JSON): conversation.<name> variables other than
	// the request's ids, and sde.<path> variables, read from them.
	Conversation map[string]any
	SDE          map[string]any
}

// MaxRequestID bounds a conversation, session or person id of a request.
const MaxRequestID = 256

// CheckRequestID validates an optional conversation, session or person
// id of a next-action request (the v2 API's body, the console's Try it):
// at most MaxRequestID printable characters.
func CheckRequestID(field, v string) error {
	if v == "" {
		return nil
	}
	ok := utf8.ValidString(v) && utf8.RuneCountInString(v) <= MaxRequestID
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			ok = false
		}
	}
	if !ok {
		return fault.Invalid("%s: must be at most %d printable characters", field, MaxRequestID)
	}
	return nil
}

// Decision is the outcome of one evaluation.
type Decision struct {
	// ID identifies the evaluation (v1 nextActionId).
	ID string
	// Policy is the matched policy; nil when none matched.
	Policy *Policy
	// Actions are the policy's actions, or its exception's.
	Actions []Action
	// NoMatchReason is NoMatchedRules or NoPoliciesEnabled when Policy is
	// nil.
	NoMatchReason string
}

// NextActions evaluates the account's policies for a conversation and
// logs what it did with each policy. An evaluation past its budget
// (EvalBudget) or its deadline (Config.EvalTimeout) fails with
// ErrTooExpensive.
func (s *Service) NextActions(ctx context.Context, req Request) (Decision, error) {
	return s.evaluate(ctx, req, nil)
}

// Explanation is an evaluation as the console's "Try it" page shows it:
// its decision, each policy's state, and every variable it read.
type Explanation struct {
	Decision Decision
	// Trace is each policy's state (StateTrue, ...), in evaluation order,
	// with the cause of an ERROR or INVALID.
	Trace []Trace
	// Policies are the policies evaluated, in order (Trace's PolicyIDs).
	Policies []Policy
	// Reads are the variables the policies of Policies read, by policy id.
	Reads map[string][]string
	// Values are the variables the evaluation looked up ("ns.name"):
	// the decoded value, or absent from the map when it was missing.
	Values map[string]any
	// Looked are the variables looked up, in the order of first use.
	Looked []string
}

// Explain evaluates like NextActions, and logs the evaluation the same
// way, but also returns how each policy fared and what it read.
func (s *Service) Explain(ctx context.Context, req Request) (Explanation, error) {
	var ex Explanation
	d, err := s.evaluate(ctx, req, &ex)
	ex.Decision = d
	return ex, err
}

func (s *Service) evaluate(ctx context.Context, req Request, ex *Explanation) (Decision, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.cfg.EvalTimeout)
	defer cancel()
	d, err := s.nextActions(ctx, req, ex)
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTooExpensive) {
		// A read ran past the evaluation's deadline.
		err = fmt.Errorf("evaluation of account %s: %w", req.AccountID, tooExpensiveAt(ctx.Err()))
	}
	return d, err
}

func (s *Service) nextActions(ctx context.Context, req Request, ex *Explanation) (Decision, error) {
	var policies []*Compiled
	if req.PolicyID != "" {
		r, err := s.store.GetPolicy(ctx, req.AccountID, req.PolicyID)
		if errors.Is(err, storage.ErrNotFound) {
			return Decision{}, fault.NotFound("policyId: policy %q not found", printable(req.PolicyID))
		}
		if err != nil {
			return Decision{}, err
		}
		policies = []*Compiled{s.compiled(r)}
	} else {
		var err error
		if policies, err = s.policies(ctx, req.AccountID); err != nil {
			return Decision{}, err
		}
	}
	now := s.cfg.Now()
	b := newBudget(ctx, EvalBudget)
	f := newFetcher(ctx, s.vars, req, policies)
	f.budget = b
	f.custom = func() (map[string]any, error) { return s.customVars(ctx, req.AccountID, b) }
	lookup := f.lookup
	if ex != nil {
		ex.Values, ex.Reads = map[string]any{}, map[string][]string{}
		for _, c := range policies {
			ex.Policies = append(ex.Policies, c.Policy)
			ex.Reads[c.Policy.ID] = c.vars
		}
		lookup = func(ns, name string) (any, bool, error) {
			v, ok, err := f.lookup(ns, name)
			key := ns + "." + name
			if _, seen := ex.Values[key]; !seen && !slices.Contains(ex.Looked, key) {
				ex.Looked = append(ex.Looked, key)
			}
			if ok && err == nil {
				ex.Values[key] = v
			}
			return v, ok, err
		}
	}
	res, err := evaluate(policies, lookup, now, b)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluation of account %s: %w", req.AccountID, err)
	}
	if ex != nil {
		ex.Trace = res.Trace
	}
	s.logTrace(req, now, res.Trace)
	d := Decision{ID: uuid.NewString(), Actions: []Action{}}
	switch {
	case res.Matched != nil:
		p := res.Matched.Policy
		d.Policy, d.Actions = &p, res.Actions
	case res.Enabled == 0:
		d.NoMatchReason = NoPoliciesEnabled
	default:
		d.NoMatchReason = NoMatchedRules
	}
	return d, nil
}

// policies returns the account's policies in order, compiled. It reads
// only their revisions when every one is compiled already (the common
// case), else the policies in full.
func (s *Service) policies(ctx context.Context, accountID string) ([]*Compiled, error) {
	revs, err := s.store.ListPolicyRevisions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]*Compiled, len(revs))
	for i, r := range revs {
		c, ok := s.cache.get(r)
		if !ok {
			recs, err := s.store.ListPolicies(ctx, accountID)
			if err != nil {
				return nil, err
			}
			out = make([]*Compiled, len(recs))
			for j, r := range recs {
				// Security: compiling is not charged to the
				// budget; a cache too small for the account's
				// policies must still not hold a request past
				// its deadline.
				if err := ctx.Err(); err != nil {
					return nil, tooExpensiveAt(err)
				}
				out[j] = s.compiled(r)
			}
			return out, nil
		}
		out[i] = c
	}
	return out, nil
}

// fetcher reads the variables of one evaluation lazily: a namespace's
// variables (every one the policies read) in one read of the session and
// one of the namespace level, on first use.
type fetcher struct {
	ctx     context.Context
	budget  *budget // decoding spends from it; nil: unbounded
	vars    Variables
	req     Request
	session string
	names   map[string][]string       // namespace → names the policies read
	docs    map[string]map[string]any // namespace → name → value
	// custom returns the account's static attributes (nil: none).
	custom func() (map[string]any, error)
}

func newFetcher(ctx context.Context, vars Variables, req Request, policies []*Compiled) *fetcher {
	f := &fetcher{ctx: ctx, vars: vars, req: req, names: map[string][]string{}, docs: map[string]map[string]any{}}
	f.session = req.SessionID
	if f.session == "" {
		f.session = req.ConversationID
	}
	seen := map[string]bool{}
	for _, c := range policies {
		if !c.Policy.IsEnabled() {
			continue
		}
		for _, v := range c.vars {
			if seen[v] {
				continue
			}
			seen[v] = true
			ns, name, _ := parseVariable(v)
			f.names[ns] = append(f.names[ns], name)
		}
	}
	return f
}

func (f *fetcher) lookup(ns, name string) (any, bool, error) {
	switch ns {
	case SDENamespace:
		v, ok := walk(f.req.SDE, name)
		return v, ok, nil
	case CustomNamespace:
		if f.custom == nil {
			return nil, false, nil
		}
		doc, ok := f.docs[ns]
		if !ok {
			var err error
			if doc, err = f.custom(); err != nil {
				return nil, false, err
			}
			f.docs[ns] = doc
		}
		v, ok := doc[name]
		return v, ok, nil
	}
	if ns == ConversationNamespace {
		var v string
		switch name {
		case "conversationId":
			v = f.req.ConversationID
		case "consumerId":
			v = f.req.ConsumerID
			if v == "" {
				v = f.req.CustomerID
			}
		case "customerId":
			v = f.req.CustomerID
			if v == "" {
				v = f.req.ConsumerID
			}
		case "groupId":
			v = f.req.GroupID
		case "visitorId":
			v = f.req.VisitorID
		case "sessionId":
			v = f.session
		default:
			x, ok := walk(f.req.Conversation, name)
			return x, ok, nil
		}
		return v, v != "", nil
	}
	if n := len(f.names[ns]); n > MaxNamesPerNamespace {
		// A reference that cannot be resolved: the policies that read
		// it are ERROR (SPEC §6), rather than every variable of the
		// namespace silently missing.
		return nil, false, &ValueError{Var: ns + "." + name, Err: fmt.Errorf(
			"the enabled policies read %d variables of namespace %s, more than the %d one read may select", n, ns, MaxNamesPerNamespace)}
	}
	doc, ok := f.docs[ns]
	if !ok {
		var err error
		if doc, err = f.load(ns); err != nil {
			return nil, false, err
		}
		f.docs[ns] = doc
	}
	v, ok := doc[name]
	if bad, isBad := v.(badValue); isBad {
		return nil, false, &ValueError{Var: ns + "." + name, Err: bad.err}
	}
	return v, ok, nil
}

// walk returns the value at a dotted path of a request object: "a.b.c"
// is member c of member b of member a; a segment that is a whole number
// indexes a list.
func walk(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// badValue stands for a stored value that cannot be decoded.
type badValue struct{ err error }

// load reads the namespace's variables from the session, then those
// missing there from the namespace level.
func (f *fetcher) load(ns string) (map[string]any, error) {
	names := f.names[ns]
	doc := make(map[string]any, len(names))
	if f.vars == nil || len(names) == 0 {
		return doc, nil
	}
	add := func(sid string, names []string) ([]string, error) {
		// Security: a read costs the budget even when it finds
		// nothing, so policies that name many namespaces cannot make
		// an evaluation read without end.
		if !f.budget.spend(ReadSteps) {
			return nil, f.budget.err
		}
		got, err := f.vars.Get(f.ctx, f.req.AccountID, ns, sid, names)
		if err != nil {
			return nil, fmt.Errorf("read %s variables: %w", ns, err)
		}
		var missing []string
		for _, n := range names {
			raw, ok := got[n]
			if !ok {
				missing = append(missing, n)
				continue
			}
			// Security: decoding costs the budget, so an evaluation
			// reads a bounded amount of context.
			if !f.budget.spend(int64(len(raw)/DecodeBytesPerStep) + 1) {
				return nil, f.budget.err
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				// Security: a stored value this evaluation cannot use
				// (such as a number beyond float64) fails the policies
				// that read it, not every evaluation of the account.
				doc[n] = badValue{err}
				continue
			}
			doc[n] = v
		}
		return missing, nil
	}
	missing := names
	if f.session != "" && f.session != wire.DefaultSession {
		var err error
		if missing, err = add(f.session, names); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		if _, err := add(wire.DefaultSession, missing); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// ---- evaluation log ----

// LogEntry is one entry of the evaluation log.
type LogEntry struct {
	Time           time.Time `json:"time"`
	ConversationID string    `json:"conversationId"`
	PolicyID       string    `json:"policyId"`
	State          string    `json:"state"`
}

func (s *Service) logTrace(req Request, now time.Time, trace []Trace) {
	trace = logged(trace)
	if len(trace) == 0 {
		return
	}
	es := make([]storage.PolicyEvaluation, len(trace))
	for i, t := range trace {
		es[i] = storage.PolicyEvaluation{Time: now, AccountID: req.AccountID, ConversationID: req.ConversationID, PolicyID: t.PolicyID, State: t.State}
	}
	select {
	case <-s.running:
	default:
		// Not running in the background: write now.
		if err := s.store.AppendEvaluations(context.Background(), es, MaxLogPerAccount); err != nil {
			s.cfg.Log.Warn("nextactions: write evaluation log", "err", err)
		}
		return
	}
	select {
	case s.logq <- es:
	default:
		// The log must never slow evaluations down.
		s.cfg.Log.Warn("nextactions: evaluation log queue full; entries dropped", "account", req.AccountID, "entries", len(es))
	}
}

// logged returns the entries of trace that are logged: all of them up to
// MaxLogPerEvaluation, else the most telling ones (see
// MaxLogPerEvaluation), in policy order.
func logged(trace []Trace) []Trace {
	if len(trace) <= MaxLogPerEvaluation {
		return trace
	}
	rank := func(state string) int {
		switch state {
		case StateTrue:
			return 0
		case StateError, StateInvalid:
			return 1
		case StateFalse:
			return 2
		}
		return 3
	}
	keep := make([]bool, len(trace))
	n := 0
	for r := 0; r <= 3 && n < MaxLogPerEvaluation; r++ {
		for i, t := range trace {
			if n < MaxLogPerEvaluation && rank(t.State) == r {
				keep[i] = true
				n++
			}
		}
	}
	out := make([]Trace, 0, n)
	for i, t := range trace {
		if keep[i] {
			out = append(out, t)
		}
	}
	return out
}

// Logs returns the account's evaluation log of the last seven days,
// newest first; only conversationID's entries when it is not empty.
// Entries of evaluations that finished before the call are included,
// unless writing those queued takes longer than MaxFlushWait.
func (s *Service) Logs(ctx context.Context, accountID, conversationID string) ([]LogEntry, error) {
	// Security: the queue holds every tenant's entries; a tenant's
	// flood must not hold another's read for longer than MaxFlushWait.
	fctx, cancel := context.WithTimeout(ctx, MaxFlushWait)
	err := s.flush(fctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	es, err := s.store.ListEvaluations(ctx, accountID, conversationID, s.cfg.Now().Add(-LogRetention), MaxLogEntries)
	if err != nil {
		return nil, err
	}
	out := make([]LogEntry, len(es))
	for i, e := range es {
		out[i] = LogEntry{Time: e.Time, ConversationID: e.ConversationID, PolicyID: e.PolicyID, State: e.State}
	}
	return out, nil
}

// flush waits until the entries queued so far are written.
func (s *Service) flush(ctx context.Context) error {
	select {
	case <-s.running:
	default:
		return nil
	}
	done := make(chan struct{})
	select {
	case s.flushq <- done:
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run writes queued evaluation log entries in batches and purges entries
// older than seven days, until ctx is done.
func (s *Service) Run(ctx context.Context) {
	close(s.running)
	defer close(s.stopped)
	purge := time.NewTicker(s.cfg.PurgeEvery)
	defer purge.Stop()
	// Entries taken off the queue are written even when ctx ends meanwhile:
	// ctx says when to stop, not whether to drop what was taken.
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			// Last write of what is queued, bounded.
			wctx, cancel := context.WithTimeout(wctx, 5*time.Second)
			s.write(wctx, nil)
			cancel()
			return
		case es := <-s.logq:
			s.write(wctx, es)
		case done := <-s.flushq:
			s.write(wctx, nil)
			close(done)
		case <-purge.C:
			n := s.Purge(ctx)
			if s.cfg.OnPurge != nil {
				s.cfg.OnPurge(n)
			}
		}
	}
}

// write writes batch and everything queued, in batches of about 1000.
func (s *Service) write(ctx context.Context, batch []storage.PolicyEvaluation) {
	for {
		drained := false
		for !drained && len(batch) < 1000 {
			select {
			case es := <-s.logq:
				batch = append(batch, es...)
			default:
				drained = true
			}
		}
		if len(batch) > 0 {
			if err := s.store.AppendEvaluations(ctx, batch, MaxLogPerAccount); err != nil {
				s.cfg.Log.Warn("nextactions: write evaluation log", "err", err, "entries", len(batch))
			}
		}
		if drained {
			return
		}
		batch = nil
	}
}

// Purge deletes evaluation log entries older than seven days, in short
// batches, and returns how many.
func (s *Service) Purge(ctx context.Context) int {
	total := 0
	for ctx.Err() == nil {
		n, err := s.store.PurgeEvaluations(ctx, s.cfg.Now().Add(-LogRetention), s.cfg.PurgeBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Warn("nextactions: purge evaluation log", "err", err)
			}
			break
		}
		total += n
		if n < s.cfg.PurgeBatch {
			break
		}
	}
	return total
}
