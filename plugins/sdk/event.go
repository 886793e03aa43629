package sdk

import (
	"errors"
	"fmt"
)

// Validate reports what makes e unusable: the core refuses such events.
func (e Event) Validate() error {
	var problems []error
	if e.ID == "" {
		problems = append(problems, errors.New("event id is empty; set the platform's event id"))
	}
	if e.Consumer.ID == "" {
		problems = append(problems, errors.New("consumer id is empty; set the platform's stable user id"))
	}
	if e.Address.ChatID == "" {
		problems = append(problems, errors.New("address chat id is empty"))
	}
	kinds := 0
	for _, set := range []bool{e.Message != nil, e.Typing != nil, e.Receipt != nil, e.End != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		problems = append(problems, fmt.Errorf("exactly one of Message, Typing, Receipt, End must be set, got %d", kinds))
	}
	if e.Receipt != nil && (e.Receipt.Status == ReceiptUnspecified || len(e.Receipt.MessageIDs) == 0) {
		problems = append(problems, errors.New("receipt needs a status and message ids"))
	}
	if e.Message != nil && e.Message.Text == "" && len(e.Message.Media) == 0 && e.Message.Choice == nil {
		problems = append(problems, errors.New("message has no text, media or choice"))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("invalid event %q: %w", e.ID, err)
	}
	return nil
}
