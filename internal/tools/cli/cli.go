// Package cli is the command line the load tools share (internal/tools/bench,
// internal/tools/soak and internal/tools/streams): how long to drive the service, after how much
// warm-up, with how many clients, on what CACHE_TTL and with which extra
// settings, parsed and checked one way for both.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Load is what both tools' command lines set: the load and the settings of
// the service under it.
type Load struct {
	Duration time.Duration // measured load, warm-up excluded
	Warmup   time.Duration // load before measuring, not counted
	Clients  int           // concurrent clients, one keep-alive connection each
	CacheTTL time.Duration // the service's CACHE_TTL
	// ServiceEnv holds NAME=value settings for the service that replace the
	// tool's own of the same name, or add to them (-env, repeatable).
	ServiceEnv []string
}

// Command is one tool's spelling of the shared flags.
type Command struct {
	// ClientsFlag names the -clients flag: each tool keeps the name it has
	// always had ("clients" for the soak, "conns" for the bench).
	ClientsFlag string
	// DurationFlag names the -duration flag; "" is "duration". The
	// streams tool's measured window is its idle window, -idle.
	DurationFlag string
	// Notes add what a shared flag means for this tool to its usage line.
	Notes Notes
}

// Notes are per-tool additions to the shared flags' usage lines; "" adds
// nothing.
type Notes struct {
	Duration, Warmup, Clients, CacheTTL string
}

// usage joins a shared flag's meaning and the tool's note on it.
func usage(text, note string) string {
	if note == "" {
		return text
	}
	return text + "; " + note
}

// Parse parses args, args[0] being the program's name, into load, whose
// values on entry are the defaults, and into the tool's own flags, which own
// registers on the flag set. Errors and -h's usage go to stderr. It returns
// false without an error when -h asked for the usage: the tool then exits 0.
// Positional arguments are refused: none of the tools takes any.
func (c Command) Parse(args []string, stderr io.Writer, load *Load, own func(*flag.FlagSet)) (bool, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&load.Duration, c.durationFlag(), load.Duration, usage("measured load, warm-up excluded", c.Notes.Duration))
	fs.DurationVar(&load.Warmup, "warmup", load.Warmup, usage("load before measuring starts, not counted", c.Notes.Warmup))
	fs.IntVar(&load.Clients, c.ClientsFlag, load.Clients, usage("concurrent clients, one keep-alive connection each", c.Notes.Clients))
	fs.DurationVar(&load.CacheTTL, "cache-ttl", load.CacheTTL, usage("the service's CACHE_TTL", c.Notes.CacheTTL))
	fs.Var(envFlag{&load.ServiceEnv}, "env", "`NAME=value` setting for the service, replacing the tool's own of that name; repeatable")
	if own != nil {
		own(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return true, nil
}

// durationFlag is the -duration flag's name in this command.
func (c Command) durationFlag() string {
	if c.DurationFlag == "" {
		return "duration"
	}
	return c.DurationFlag
}

// Validate checks the load; clientsFlag names the -clients flag in the
// message, as Command.ClientsFlag does on the command line.
func (l Load) Validate(clientsFlag string) error {
	return l.ValidateFor(Command{ClientsFlag: clientsFlag})
}

// ValidateFor is Validate naming the flags in messages as c spells them
// (ClientsFlag, DurationFlag).
func (l Load) ValidateFor(c Command) error {
	var errs []error
	if l.Duration <= 0 {
		errs = append(errs, fmt.Errorf("%s must be positive", c.durationFlag()))
	}
	if l.Warmup < 0 {
		errs = append(errs, errors.New("warmup must not be negative"))
	}
	if l.Clients < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1", c.ClientsFlag))
	}
	if l.CacheTTL <= 0 {
		errs = append(errs, errors.New("cache TTL must be positive"))
	}
	for _, kv := range l.ServiceEnv {
		if err := checkEnv(kv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// envFlag is -env: each use appends one NAME=value.
type envFlag struct{ env *[]string }

// String implements flag.Value; flag calls it on a zero envFlag too.
func (f envFlag) String() string {
	if f.env == nil {
		return ""
	}
	return strings.Join(*f.env, " ")
}

// Set implements flag.Value.
func (f envFlag) Set(kv string) error {
	if err := checkEnv(kv); err != nil {
		return err
	}
	*f.env = append(*f.env, kv)
	return nil
}

func checkEnv(kv string) error {
	name, _, ok := strings.Cut(kv, "=")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
		return fmt.Errorf("service setting %q: want NAME=value", kv)
	}
	return nil
}
