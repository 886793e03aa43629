package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/leconnect/leconnect/core/bench"
)

// benchCommand runs `leconnect bench`: the core and a bare relay under the
// same load, side by side (package bench).
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	messages := fs.Int("messages", 2000, "messages per direction")
	conversations := fs.Int("conversations", 50, "conversations the messages are spread over")
	rate := fs.Float64("rate", 0, "hand the messages at this many a second instead of all at once (latency below capacity)")
	storeName := fs.String("store", "bbolt", "the core's store: bbolt or postgres")
	dsn := fs.String("dsn", "", "PostgreSQL DSN (with --store postgres)")
	dir := fs.String("dir", "", "keep the core's config, store and log here (default: a temporary directory, removed)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	profileDir := fs.String("profile", "", "write the core's CPU profiles (cpu-DIRECTION-N.pprof, one a second; go tool pprof merges them) and heap profiles here")
	idle := fs.Int("idle", 0, "instead of the floods: the core at rest with this many mapped conversations in the embedded store (cold start, memory, store bytes), beside an empty store")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable to run the core: %w", err)
	}
	if *idle > 0 {
		rep, err := bench.Idle(ctx, bench.Options{Exe: self, Dir: *dir, Progress: stderr}, *idle)
		if err != nil {
			return err
		}
		return printReport(stdout, *asJSON, rep, printIdle)
	}
	if *rate < 0 {
		return usageError{"--rate must be positive"}
	}
	rep, err := bench.Run(ctx, bench.Options{Exe: self, Messages: *messages, Conversations: *conversations, Rate: *rate,
		Store: *storeName, DSN: *dsn, Dir: *dir, Profile: *profileDir, Progress: stderr})
	if err != nil {
		return err
	}
	return printReport(stdout, *asJSON, rep, printBench)
}

// printReport writes rep as indented JSON, or for people with print.
func printReport[R any](w io.Writer, asJSON bool, rep R, print func(io.Writer, R)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	print(w, rep)
	return nil
}

func printBench(w io.Writer, rep bench.Report) {
	load := "all at once"
	if rep.Rate > 0 {
		load = fmt.Sprintf("at %.0f a second", rep.Rate)
	}
	fmt.Fprintf(w, "%d messages each way over %d conversations, %s; the core on the %s store, beside a bare relay\n\n", rep.Messages, rep.Conversations, load, rep.Store)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "direction\ttarget\tmsg/s\tp50 ms\tp99 ms\tp999 ms\tLE webhook p99 ms\tload CPU ms/msg\t")
	for _, d := range rep.Directions {
		for _, s := range []struct {
			name string
			bench.Side
		}{{"core", d.Core}, {"relay", d.Relay}} {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t\n", d.Name, s.name, s.MsgsPerSec, s.P50Ms, s.P99Ms, s.P999Ms, s.WebhookP99Ms, s.LoadCPUMsPerMsg)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, d := range rep.Directions {
		fmt.Fprintf(w, "%s: the core does %.2f of the relay's rate and adds %.1f ms at p50, %.1f at p99, %.1f at p999; per message it spends %.3f ms of CPU, %.0f allocations, %.2f store commits",
			d.Name, d.Ratio, d.AddedP50Ms, d.AddedP99Ms, d.AddedP999Ms, d.CoreCPUMsPerMsg, d.CoreAllocsPerMsg, d.StoreCommitsPerMsg)
		if rep.Store == "postgres" {
			fmt.Fprintf(w, ", %.1f PostgreSQL round trips", d.StoreRoundTripsPerMsg)
		}
		fmt.Fprintf(w, "; its adapter process %.3f ms of CPU\n", d.AdapterCPUMsPerMsg)
	}
}

func printIdle(w io.Writer, rep bench.IdleReport) {
	mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(w, "the core at rest with the Telegram, Slack and SMS adapters, embedded store\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "conversations\tcold start ms\tcore RSS MiB\tanonymous MiB\tfile-backed MiB\tadapters RSS MiB\tstore MiB\t")
	for _, r := range []struct {
		n int
		bench.IdleRun
	}{{0, rep.Empty}, {rep.Conversations, rep.Full}} {
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", r.n, r.ColdStartMs, mb(r.RSSBytes), mb(r.RSSAnonBytes), mb(r.RSSFileBytes), mb(r.AdaptersRSSBytes), mb(uint64(r.StoreBytes)))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nper conversation: %.0f bytes of store file (%.0f in use in its pages), %.0f bytes of the core's memory (%.0f of it anonymous)\n",
		rep.StoreBytesPerConversation, rep.StoreInUseBytesPerConversation, rep.RAMPerConversationBytes, rep.HeapPerConversationBytes)
}
