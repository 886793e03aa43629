package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leconnect/leconnect/core/admin"
	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/daemon"
	"github.com/leconnect/leconnect/core/store"
)

const dlqUsage = `usage:
  leconnect dlq list   --config FILE [--after ID] [--limit N] [--json]
  leconnect dlq replay --config FILE ID...
  leconnect dlq drop   --config FILE ID...`

// dlqCommand manages the dead-letter list: through the running daemon's
// admin socket, or straight from the store when the daemon is stopped.
func dlqCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"expected list, replay or drop\n" + dlqUsage}
	}
	verb := args[0]
	fs := flag.NewFlagSet("dlq "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "connector.yaml", "the config `FILE`")
	after := fs.Uint64("after", 0, "list entries after this `ID`")
	limit := fs.Int("limit", 100, "list at most `N` entries")
	asJSON := fs.Bool("json", false, "list as JSON")
	// Flags may come before or after the ids.
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var ids []uint64
	for _, a := range positional {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return usageError{fmt.Sprintf("%q is not a dead-letter id", a)}
		}
		ids = append(ids, id)
	}
	switch {
	case verb == "list" && len(ids) > 0:
		return usageError{"list takes no ids\n" + dlqUsage}
	case (verb == "replay" || verb == "drop") && len(ids) == 0:
		return usageError{verb + " needs at least one id\n" + dlqUsage}
	case verb != "list" && verb != "replay" && verb != "drop":
		return usageError{fmt.Sprintf("unknown dlq command %q\n%s", verb, dlqUsage)}
	}

	cfg, _, err := config.Load(*path, config.WithBuiltinAdapters(builtin.Names()...), config.WithUnsetVariablesAsWarnings())
	if err != nil {
		return err
	}
	var dlq admin.DLQ
	if c, err := admin.Dial(admin.SocketPath(cfg.Store.Path)); err == nil {
		dlq = c
	} else {
		st, err := daemon.OpenStore(ctx, cfg, daemon.StoreOptions{NoSweep: true})
		if err != nil {
			return fmt.Errorf("open the store (no daemon answers on its admin socket): %w", err)
		}
		defer st.Close()
		dlq = st.DeadLetters()
	}

	switch verb {
	case "list":
		list, err := dlq.List(ctx, *after, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(readableDeadLetters(list))
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tQUEUE\tKEY\tDEAD AT\tREPLAYS\tREASON")
		for _, d := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Queue, strings.ReplaceAll(d.Item.Key, "\x00", "/"),
				d.DeadAt.Format(time.RFC3339), d.Item.Replays, d.Reason)
		}
		return tw.Flush()
	case "replay":
		for _, id := range ids {
			item, err := dlq.Replay(ctx, id)
			if err != nil {
				return fmt.Errorf("replay %d: %w", id, err)
			}
			fmt.Fprintf(stdout, "replayed %d: queued again as %d\n", id, item.Seq)
		}
	case "drop":
		for _, id := range ids {
			if err := dlq.Drop(ctx, id); err != nil {
				return fmt.Errorf("drop %d: %w", id, err)
			}
			fmt.Fprintf(stdout, "dropped %d\n", id)
		}
	}
	return nil
}

// deadLetterView is a dead letter as `dlq list --json` prints it: a
// payload that is JSON (the engine's always are: the event, or the raw
// LiveEngage change) is shown as JSON, not as base64.
type deadLetterView struct {
	store.DeadLetter
	Item itemView `json:"item"`
}

type itemView struct {
	store.Item
	Payload any `json:"payload"`
}

func readableDeadLetters(list []store.DeadLetter) []deadLetterView {
	out := make([]deadLetterView, 0, len(list))
	for _, d := range list {
		v := deadLetterView{DeadLetter: d, Item: itemView{Item: d.Item, Payload: d.Item.Payload}}
		if json.Valid(d.Item.Payload) {
			v.Item.Payload = json.RawMessage(d.Item.Payload)
		}
		out = append(out, v)
	}
	return out
}
