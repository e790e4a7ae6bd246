package nextactions

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// Bounds of one expression. The language is restricted to straight-line
// code (no closures, predicates, ranges, pipes or builtins), so an
// evaluation runs each node at most once: MaxExpressionNodes bounds its
// time, and the VM's memory budget bounds what it allocates.
const (
	MaxExpressionNodes = 500
	ExprMemoryBudget   = 100_000
)

// Compiled is a validated policy ready to evaluate. It is immutable and
// safe for concurrent use.
type Compiled struct {
	Policy Policy
	when   rule
	except *rule
	// vars lists every variable the policy reads ("ns.name"), those of
	// its action payloads included.
	vars []string
	// templated and exceptTemplated: the actions (or the exception's)
	// hold variable references to substitute.
	templated, exceptTemplated bool
	// invalid is why a stored policy does not compile (see Invalid).
	invalid error
}

// Vars returns the variables ("ns.name") the policy reads, in first-use
// order.
func (c *Compiled) Vars() []string { return c.vars }

type rule struct {
	conds []compiledCondition
	prog  *vm.Program // nil: no expression
}

type compiledCondition struct {
	ns, name string
	op       string
	value    any       // constant (decoded JSON), when ref is ""
	ref      string    // "ns.name" of a {{ns.name}} value
	set      *valueSet // IS_IN of a constant list or string: its set, built once
}

// Compile validates p (see Normalize) and compiles its conditions and
// expressions. Errors are fault.Invalid naming the field under field
// (for example "policy.expression").
func Compile(field string, p Policy) (*Compiled, error) {
	if err := Normalize(field, &p); err != nil {
		return nil, err
	}
	c := &Compiled{Policy: p}
	seen := map[string]bool{}
	use := func(v string) {
		if !seen[v] {
			seen[v] = true
			c.vars = append(c.vars, v)
		}
	}
	var err error
	if c.when, err = compileRule(field, p.Conditions, p.Expression, use); err != nil {
		return nil, err
	}
	if e := p.Exception; e != nil {
		r, err := compileRule(field+".exception", e.Conditions, e.Expression, use)
		if err != nil {
			return nil, err
		}
		c.except = &r
	}
	for _, a := range p.Actions {
		for _, v := range a.Payload {
			_ = payloadRefs("", v, use) // validated by Normalize
		}
	}
	c.templated = templated(p.Actions)
	if e := p.Exception; e != nil {
		for _, a := range e.Actions {
			for _, v := range a.Payload {
				_ = payloadRefs("", v, use)
			}
		}
		c.exceptTemplated = templated(e.Actions)
	}
	return c, nil
}

func compileRule(field string, conds []Condition, expression string, use func(string)) (rule, error) {
	var r rule
	for _, c := range conds {
		ns, name, _ := parseVariable(c.Property) // validated by Normalize
		cc := compiledCondition{ns: ns, name: name, op: c.Type, value: c.Value}
		use(c.Property)
		if ref, ok, _ := reference(c.Value); ok {
			cc.ref, cc.value = ref, nil
			use(ref)
		} else if c.Type == OpIsIn {
			cc.set, _ = setOf(c.Value, nil) // nil for other values
		}
		r.conds = append(r.conds, cc)
	}
	if strings.TrimSpace(expression) != "" {
		prog, vars, err := compileExpression(expression)
		if err != nil {
			return rule{}, fault.Invalid("%s.expression: %s", field, oneLine(err.Error()))
		}
		for _, v := range vars {
			use(v)
		}
		r.prog = prog
	}
	return r, nil
}

// compileExpression compiles an expression of the v2 editor's language
// with expr-lang/expr. Variables are written ns.name (or ns['name']); the
// patcher rewrites each into a call of the environment's Var method, and
// isTimeRange/isDateRange into its methods, so the program reads variables
// only through the environment of one evaluation.
func compileExpression(src string) (*vm.Program, []string, error) {
	p := &patcher{}
	prog, err := expr.Compile(src,
		expr.Env(&env{}),
		expr.Patch(p),
		expr.AsBool(),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(MaxExpressionNodes),
	)
	if p.err != nil {
		return nil, nil, p.err
	}
	if err != nil {
		return nil, nil, err
	}
	return prog, p.vars, nil
}

// patcher rewrites variables and function names and rejects the parts of
// expr's language that the editor's language does not have.
type patcher struct {
	vars []string
	err  error
}

var functions = map[string]string{"isTimeRange": "IsTimeRange", "isDateRange": "IsDateRange"}

func (p *patcher) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

// Visit implements ast.Visitor. expr walks children before their parent,
// so ns.name is seen as a member of an identifier.
func (p *patcher) Visit(n *ast.Node) {
	switch m := (*n).(type) {
	case *ast.MemberNode:
		id, ok := m.Node.(*ast.IdentifierNode)
		if !ok {
			return
		}
		prop, ok := m.Property.(*ast.StringNode)
		if !ok {
			p.fail("variable %s: the property name must be a constant", id.Value)
			return
		}
		v := id.Value + "." + prop.Value
		if _, _, err := parseVariable(v); err != nil {
			p.fail("variable %v", err)
			return
		}
		p.vars = append(p.vars, v)
		call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "Var"}, Arguments: []ast.Node{&ast.StringNode{Value: v}}}
		ast.Patch(n, call)
	case *ast.CallNode:
		id, ok := m.Callee.(*ast.IdentifierNode)
		if !ok {
			p.fail("only isTimeRange and isDateRange can be called")
			return
		}
		if id.Value == "Var" {
			// Var('ns.name') written out is the same as ns.name.
			if len(m.Arguments) == 1 {
				if s, ok := m.Arguments[0].(*ast.StringNode); ok {
					if _, _, err := parseVariable(s.Value); err != nil {
						p.fail("variable %v", err)
						return
					}
					p.vars = append(p.vars, s.Value)
					return
				}
			}
			p.fail("Var takes one constant variable name")
			return
		}
		name, ok := functions[id.Value]
		if !ok {
			p.fail("unknown function %s (want isTimeRange or isDateRange)", id.Value)
			return
		}
		if err := checkRangeArgs(id.Value, m.Arguments); err != nil {
			p.fail("%v", err)
			return
		}
		id.Value = name
	case *ast.BuiltinNode, *ast.PredicateNode, *ast.PointerNode, *ast.VariableDeclaratorNode,
		*ast.SequenceNode, *ast.MapNode:
		p.fail("unsupported construct %q", (*n).String())
	case *ast.BinaryNode:
		switch m.Operator {
		case "..", "|", "matches":
			p.fail("unsupported operator %q", m.Operator)
		case "+":
			// Security: the evaluation pays for what + makes (see
			// env.Produced), so repeated concatenation is bounded.
			if mayBeLarge(m) {
				ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "Produced"}, Arguments: []ast.Node{m}})
			}
		case "contains":
			// Security: expr's contains is strings.Contains, whose
			// worst case is the product of the sizes (see index);
			// env.Contains searches in linear time and pays for it.
			// Constants alone are bounded by the expression's text
			// and keep expr's operator and its type checks.
			if mayBeLarge(m.Left) || mayBeLarge(m.Right) {
				ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "Contains"}, Arguments: []ast.Node{m.Left, m.Right}})
			}
		case "==", "!=", "<", "<=", ">", ">=", "in", "startsWith", "endsWith":
			// Security: these cost the size of their operands; the
			// evaluation pays for each (see env.Operand).
			m.Left, m.Right = operand(m.Left), operand(m.Right)
		}
	}
}

// operand wraps a node whose value may be large in a call of
// env.Operand. Constants are bounded by the expression's text and are
// left as they are, so that the type checker still sees their types.
func operand(n ast.Node) ast.Node {
	if !mayBeLarge(n) {
		return n
	}
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: "Operand"}, Arguments: []ast.Node{n}}
}

// mayBeLarge reports whether the value of n may be larger than the
// expression's text: whether it reads a variable or calls a function.
func mayBeLarge(n ast.Node) bool {
	switch m := n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return false
	case *ast.UnaryNode:
		return mayBeLarge(m.Node)
	case *ast.BinaryNode:
		return mayBeLarge(m.Left) || mayBeLarge(m.Right)
	}
	return true
}

// checkRangeArgs validates the constant arguments of isTimeRange and
// isDateRange at compile time, so a bad time zone is a 400 and not an
// evaluation error.
func checkRangeArgs(fn string, args []ast.Node) error {
	if len(args) != 3 && len(args) != 4 {
		return fmt.Errorf("%s takes 3 or 4 arguments (start, end, time zone, [days])", fn)
	}
	str := func(i int) (string, bool) {
		s, ok := args[i].(*ast.StringNode)
		if !ok {
			return "", false
		}
		return s.Value, true
	}
	parse := func(s string) error { _, err := parseClock(s); return err }
	if fn == "isDateRange" {
		parse = func(s string) error { _, err := parseDate(s); return err }
	}
	for i, what := range []string{"start", "end"} {
		if s, ok := str(i); ok {
			if err := parse(s); err != nil {
				return fmt.Errorf("%s %s: %v", fn, what, err)
			}
		}
	}
	if s, ok := str(2); ok {
		if _, err := loadLocation(s); err != nil {
			return fmt.Errorf("%s: unknown time zone %q", fn, printable(s))
		}
	}
	if len(args) == 4 {
		arr, ok := args[3].(*ast.ArrayNode)
		if !ok {
			return fmt.Errorf("%s days: must be a list like ['MON','TUE']", fn)
		}
		for _, d := range arr.Nodes {
			s, ok := d.(*ast.StringNode)
			if !ok {
				return fmt.Errorf("%s days: must be a list like ['MON','TUE']", fn)
			}
			if _, err := parseDay(s.Value); err != nil {
				return fmt.Errorf("%s days: %v", fn, err)
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// cache holds compiled policies: a policy is compiled once per revision
// (SPEC: "compiled once"), however often it is evaluated. It keeps one
// revision per policy, keyed by account and policy id, so a new revision
// replaces the old one, and it is bounded by the approximate heap of its
// entries (Compiled.weigh); the least valuable entries are evicted, and
// recompiled on use.
//
// Security: it used to key entries by revision and keep up to 100,000 of
// them whatever their size, so every update of a policy with 100 IS_IN
// lists of 4 KB left 5.5 MB behind: 80 updates took the RSS from 62 to
// 503 MB, and deleting the policy released nothing.
type cache struct {
	c *otter.Cache[policyKey, *cacheEntry]
}

type policyKey struct{ account, id string }

type cacheEntry struct {
	revision string
	c        *Compiled
	weight   uint32
}

func newCache(maxBytes uint64) *cache {
	return &cache{c: otter.Must(&otter.Options[policyKey, *cacheEntry]{
		MaximumWeight: maxBytes,
		Weigher:       func(_ policyKey, e *cacheEntry) uint32 { return e.weight },
		StatsRecorder: stats.NewCounter(),
	})}
}

// CacheStats returns the hits, misses and evictions of the cache of
// compiled policies, for the metrics.
func (s *Service) CacheStats() stats.Stats { return s.cache.c.Stats() }

// get returns the compiled form of revision r of a policy.
func (c *cache) get(r storage.Policy) (*Compiled, bool) {
	e, ok := c.c.GetIfPresent(policyKey{r.AccountID, r.ID})
	if !ok || e.revision != r.Revision {
		return nil, false
	}
	return e.c, true
}

// put caches v as the compiled form of revision r, replacing the
// policy's other revision.
func (c *cache) put(r storage.Policy, v *Compiled) {
	k := policyKey{r.AccountID, r.ID}
	w := 128 + len(k.account) + len(k.id) + len(r.Revision) + v.weigh()
	c.c.Set(k, &cacheEntry{revision: r.Revision, c: v, weight: uint32(min(w, 1<<31))})
}

// drop forgets a deleted policy.
func (c *cache) drop(accountID, id string) { c.c.Invalidate(policyKey{accountID, id}) }
