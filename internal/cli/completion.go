package cli

// Shell completion: `orchestrator completion bash|zsh|fish` prints a
// script generated from kong's model of the command line, so that it
// completes exactly the commands and flags this binary has. The script is
// static (it never runs the binary): three small lookup functions (a
// command's subcommands, its flags, and the values a flag takes) in the
// shell's syntax, and one function that walks the words typed so far to
// find the command they name.

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// CompletionCmd prints a shell completion script.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell: bash, zsh or fish."`
}

// Help is the detailed help of completion.
func (c *CompletionCmd) Help() string {
	return `Prints a script that completes orchestrator's commands, flags and flag values.

    bash:  source <(orchestrator completion bash)              # in ~/.bashrc
    zsh:   source <(orchestrator completion zsh)               # in ~/.zshrc, after compinit
           (or save it as _orchestrator in a directory of $fpath)
    fish:  orchestrator completion fish > ~/.config/fish/completions/orchestrator.fish`
}

// Run prints the script.
func (c *CompletionCmd) Run(g *Globals, kctx *kong.Context) error {
	return writeCompletion(g.Stdout, c.Shell, completionTable(kctx.Model))
}

// compNode is what completes after one command: its subcommands, the
// flags it accepts (its own and its parents'), and which of those take
// a value.
type compNode struct {
	path   string   // "account regenerate-key"; "" for orchestrator itself
	cmds   []string // subcommand names
	flags  []string // "--name" and "-n" forms
	values []compValue
}

// compValue is a flag that takes a value; enum lists the values it
// accepts, nil when any (files are offered).
type compValue struct {
	flag string
	enum []string
}

// completionTable walks the model: one compNode per visible command.
func completionTable(app *kong.Application) []compNode {
	var out []compNode
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		cn := compNode{path: path}
		for _, group := range n.AllFlags(true) {
			for _, f := range group {
				forms := []string{"--" + f.Name}
				if f.Short != 0 {
					forms = append(forms, "-"+string(f.Short))
				}
				cn.flags = append(cn.flags, forms...)
				if f.IsBool() || f.IsCounter() {
					continue
				}
				var enum []string
				if f.Enum != "" {
					enum = f.EnumSlice()
				}
				for _, form := range forms {
					cn.values = append(cn.values, compValue{flag: form, enum: enum})
				}
			}
		}
		for _, child := range n.Children {
			if child.Hidden || child.Type != kong.CommandNode {
				continue
			}
			cn.cmds = append(cn.cmds, child.Name)
		}
		out = append(out, cn)
		for _, child := range n.Children {
			if child.Hidden || child.Type != kong.CommandNode {
				continue
			}
			walk(child, strings.TrimSpace(path+" "+child.Name))
		}
	}
	walk(app.Node, "")
	return out
}

// shellWords quotes a space-separated list for a single-quoted shell
// string. Names and enum values never hold a quote; refuse one rather
// than emit a broken script.
func shellWords(words []string) string {
	s := strings.Join(words, " ")
	if strings.ContainsAny(s, `'\`) {
		panic(fmt.Sprintf("completion: cannot quote %q", s))
	}
	return "'" + s + "'"
}

// writeCompletion renders the table for shell.
func writeCompletion(w io.Writer, shell string, table []compNode) error {
	var b strings.Builder
	// The three lookups are written in the subset of syntax that bash and
	// zsh share; fish has its own.
	// Each takes two arguments, a command path and a word (for
	// __orchestrator_value a flag, else ''), and answers with the words
	// it knows: in REPLY (bash, zsh) or on stdout (fish); status 1 when
	// it knows none (a flag that takes no value).
	fnStart, fnEnd := "%s() {\n\tcase \"$1 $2\" in\n", "\tesac\n}\n\n"
	caseArm, caseDefault := "\t%s) REPLY=%s ;;\n", "\t*) return 1 ;;\n"
	if shell == "fish" {
		fnStart, fnEnd = "function %s\n\tswitch \"$argv[1] $argv[2]\"\n", "\tend\nend\n\n"
		caseArm, caseDefault = "\tcase %s\n\t\techo %s\n", "\tcase '*'\n\t\treturn 1\n"
	}
	lookup := func(name string, arms func(arm func(key, words string))) {
		fmt.Fprintf(&b, fnStart, name)
		arms(func(key, words string) { fmt.Fprintf(&b, caseArm, key, words) })
		b.WriteString(caseDefault)
		b.WriteString(fnEnd)
	}
	// Keys are "PATH " (a trailing space: the second argument is empty)
	// or "PATH FLAG".
	lookup("__orchestrator_cmds", func(arm func(string, string)) {
		for _, n := range table {
			arm(shellWords([]string{n.path + " "}), shellWords(n.cmds))
		}
	})
	lookup("__orchestrator_flags", func(arm func(string, string)) {
		for _, n := range table {
			arm(shellWords([]string{n.path + " "}), shellWords(n.flags))
		}
	})
	lookup("__orchestrator_value", func(arm func(string, string)) {
		for _, n := range table {
			for _, v := range n.values {
				arm(shellWords([]string{n.path + " " + v.flag}), shellWords(v.enum))
			}
		}
	})
	header := fmt.Sprintf("# %s completion for orchestrator, generated by `orchestrator completion %s`.\n", shell, shell)
	var script string
	switch shell {
	case "bash":
		script = header + "# Load it with: source <(orchestrator completion bash)\n\n" + b.String() + bashMain
	case "zsh":
		script = "#compdef orchestrator\n" + header + "# Load it with: source <(orchestrator completion zsh) after compinit,\n# or save it as _orchestrator in a directory of $fpath.\n\n" + b.String() + zshMain
	case "fish":
		script = header + "# Save it as ~/.config/fish/completions/orchestrator.fish\n\n" + b.String() + fishMain
	default:
		return fmt.Errorf("completion: unknown shell %q (bash, zsh or fish)", shell)
	}
	_, err := io.WriteString(w, script)
	return err
}

// The walk: every word before the cursor that names a subcommand of the
// command found so far extends it; a flag that takes a value skips the
// next word. Then the word at the cursor completes as the value of the
// flag before it, a flag (when it starts with -), or a subcommand; a
// command without subcommands gets file names for its arguments.

const bashMain = `_orchestrator() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' cpath='' w i REPLY
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--*=*) ;;
		-*) if __orchestrator_value "$cpath" "$w"; then ((i++)); fi ;;
		*) if __orchestrator_cmds "$cpath" '' && [[ " $REPLY " == *" $w "* ]]; then cpath=${cpath:+$cpath }$w; fi ;;
		esac
	done
	((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	if [[ $prev == -* && $prev != *=* ]] && __orchestrator_value "$cpath" "$prev"; then
		if [[ -n $REPLY ]]; then
			COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		__orchestrator_flags "$cpath" ''
	else
		__orchestrator_cmds "$cpath" ''
	fi
	if [[ -n $REPLY ]]; then
		COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	return 0
}

complete -o filenames -F _orchestrator orchestrator
`

// zsh: $words is 1-based and $words[1] is the command; "path" is a
// special parameter in zsh, hence cpath.
const zshMain = `_orchestrator() {
	local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cpath='' w i REPLY
	local -a choices
	for ((i = 2; i < CURRENT; i++)); do
		w=${words[i]}
		case $w in
		--*=*) ;;
		-*) if __orchestrator_value "$cpath" "$w"; then ((i++)); fi ;;
		*) if __orchestrator_cmds "$cpath" '' && [[ " $REPLY " == *" $w "* ]]; then cpath=${cpath:+$cpath }$w; fi ;;
		esac
	done
	if ((CURRENT > 2)) && [[ $prev == -* && $prev != *=* ]] && __orchestrator_value "$cpath" "$prev"; then
		if [[ -n $REPLY ]]; then
			choices=(${=REPLY})
			compadd -a choices
		else
			_files
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		__orchestrator_flags "$cpath" ''
	else
		__orchestrator_cmds "$cpath" ''
	fi
	if [[ -n $REPLY ]]; then
		choices=(${=REPLY})
		compadd -a choices
	else
		_files
	fi
}

if [[ $funcstack[1] == _orchestrator ]]; then
	_orchestrator "$@"
else
	compdef _orchestrator orchestrator
fi
`

const fishMain = `function __orchestrator_complete
	set -l tokens (commandline -opc)
	set -l cur (commandline -ct)
	set -l cpath ''
	set -l skip 0
	for w in $tokens[2..-1]
		if test $skip = 1
			set skip 0
			continue
		end
		switch $w
		case '--*=*'
		case '-*'
			if __orchestrator_value "$cpath" $w >/dev/null
				set skip 1
			end
		case '*'
			if contains -- $w (string split ' ' -- (__orchestrator_cmds "$cpath" ''))
				set cpath (string trim -- "$cpath $w")
			end
		end
	end
	if test (count $tokens) -gt 1; and string match -q -- '-*' $tokens[-1]; and not string match -q -- '*=*' $tokens[-1]
		if __orchestrator_value "$cpath" $tokens[-1] >/dev/null
			set -l values (__orchestrator_value "$cpath" $tokens[-1])
			if test -n "$values"
				string split ' ' -- $values
			else
				__fish_complete_path $cur
			end
			return
		end
	end
	if string match -q -- '-*' $cur
		set -l flags (__orchestrator_flags "$cpath" '')
		string split ' ' -- $flags
		return
	end
	set -l cmds (__orchestrator_cmds "$cpath" '')
	if test -n "$cmds"
		string split ' ' -- $cmds
	else
		__fish_complete_path $cur
	end
end

complete -c orchestrator -f -a '(__orchestrator_complete)'
`
