package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumBinaries are the names Debian, Ubuntu and Google give the browser.
var chromiumBinaries = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// readmeScreenshot is the README's screenshot; the test rewrites it only when
// LECONNECT_UPDATE_SCREENSHOT=1, so test runs leave the tree clean.
const readmeScreenshot = "../docs/demo.png"

// The Must-show of issue 7 in a real headless Chromium: type as a Telegram
// user, see it in the agent workspace, answer as the agent, see the answer
// on the phone, close the conversation (and answer the CSAT question); then
// a message from the Slack phone and one from the SMS phone, each seen in
// the workspace and answered; then save the screenshot for the README.
func TestBrowserConversation(t *testing.T) {
	var browser string
	for _, name := range chromiumBinaries {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skipf("SKIP: no Chromium binary found on PATH (looked for %v); install it with `apt-get install -y chromium`", chromiumBinaries)
	}
	d := startDemo(t)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 980),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	// Bounds a broken run only; each wait below has its own bound too.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	start := time.Now()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%6.2fs %s", time.Since(start).Seconds(), what)
	}
	// waitJS waits until a JavaScript expression is truthy.
	waitJS := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
			t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, dump)
		}
		t.Logf("%6.2fs %s", time.Since(start).Seconds(), what)
	}
	phone := `.phone[data-channel="telegram"]`
	// clickJS clicks in the page: lists re-render on every live event, so a
	// node found by a separate query may be gone by the time it is clicked.
	clickJS := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).click()`, strconv.Quote(sel)))
	}
	hasText := func(sel, text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`, strconv.Quote(sel), strconv.Quote(text))
	}

	step("open the page", chromedp.Navigate(d.url), chromedp.WaitVisible(phone+" .phone-input"))
	step("type as the Telegram user",
		chromedp.SendKeys(phone+" .phone-input", "Hi! My parcel has not arrived."),
		chromedp.Click(phone+" .phone-send"))
	waitJS("the user's bubble on the phone", hasText(phone+" .bubble.user", "Hi! My parcel has not arrived."))
	waitJS("the conversation in the agent workspace", hasText("#conv-list .conv", "Ann Example"))
	step("open it", clickJS(`#conv-list .conv`))
	waitJS("the message in the agent workspace", hasText("#agent-messages .msg.CONSUMER", "Hi! My parcel has not arrived."))

	step("reply as the agent, with quick replies",
		chromedp.SendKeys("#agent-text", "Sorry about that, Ann. Shall I send a new one?"),
		chromedp.SendKeys("#agent-qr", "Yes please, No thanks"),
		chromedp.Click("#agent-send"))
	waitJS("the reply on the phone", hasText(phone+" .bubble.business", "Sorry about that, Ann. Shall I send a new one?"))
	waitJS("quick-reply buttons on the phone", hasText(phone+" .bubble.business button", "Yes please"))
	step("tap a quick reply", clickJS(phone+` .bubble.business button`))
	waitJS("the tapped answer in the agent workspace", hasText("#agent-messages .msg.CONSUMER", "Yes please"))
	waitJS("the click reported with the reply's metadata", hasText("#agent-messages .system.action", "clicked reply-yes-please"))

	step("close the conversation", chromedp.Click("#agent-close"))
	waitJS("the conversation closed in the workspace", `document.querySelector("#thread-head").dataset.state === "CLOSE"`)
	waitJS("the closing message on the phone", hasText(phone+" .bubble.business", "This conversation has ended"))
	waitJS("the CSAT question on the phone", hasText(phone+" .bubble.business", csatPrompt))
	step("answer the CSAT question",
		chromedp.SendKeys(phone+" .phone-input", "5"),
		chromedp.Click(phone+" .phone-send"))
	waitJS("CSAT shown in the workspace", hasText("#thread-head .badge", "CSAT 5/5"))

	// The agent resumes the closed conversation: LiveEngage opens a new one,
	// and the agent's message reaches the phone without Ann writing first.
	step("resume the closed conversation", clickJS("#agent-resume"))
	waitJS("the resumed conversation open in the workspace", `document.querySelector("#thread-head").dataset.state === "OPEN"`)
	step("write in the resumed conversation",
		chromedp.SendKeys("#agent-text", "Ann, your new parcel ships today."),
		chromedp.Click("#agent-send"))
	waitJS("the message from the resumed conversation on the phone", hasText(phone+" .bubble.business", "Ann, your new parcel ships today."))

	// Slack and SMS: a message from each phone reaches the workspace, and
	// the agent's answer (with quick replies) reaches the phone, as Block
	// Kit buttons on Slack and numbered options on SMS.
	clickConv := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll("#conv-list .conv")].find(e => e.textContent.includes(%s)).click()`, strconv.Quote(text)))
	}
	for _, tc := range []struct{ channel, text, answer, option string }{
		{"slack", "Hello from Slack! Is the shop open on Sunday?", "Yes, 10 to 4. Anything else?", "No thanks"},
		{"sms", "Hi, can I change my delivery address?", "Of course. Which one?", "Home"},
	} {
		ph := fmt.Sprintf(`.phone[data-channel=%q]`, tc.channel)
		step("type on the "+tc.channel+" phone",
			chromedp.SendKeys(ph+" .phone-input", tc.text),
			chromedp.Click(ph+" .phone-send"))
		waitJS("the "+tc.channel+" bubble on the phone", hasText(ph+" .bubble.user", tc.text))
		waitJS("the "+tc.channel+" conversation in the agent workspace", hasText("#conv-list .conv", tc.text))
		step("open it", clickConv(tc.text))
		waitJS("the "+tc.channel+" message in the agent workspace", hasText("#agent-messages .msg.CONSUMER", tc.text))
		step("answer the "+tc.channel+" consumer, with quick replies",
			chromedp.SendKeys("#agent-text", tc.answer),
			chromedp.SendKeys("#agent-qr", tc.option+", Other"),
			chromedp.Click("#agent-send"))
		waitJS("the answer on the "+tc.channel+" phone", hasText(ph+" .bubble.business", tc.answer))
		waitJS("the options on the "+tc.channel+" phone", hasText(ph+" .bubble.business button", tc.option))
	}

	// The agent transfers the Slack conversation to another skill: it waits
	// in the queue, the consumer's next message still lands in it, and the
	// agent who picks it up answers on the phone.
	slackPhone := `.phone[data-channel="slack"]`
	step("open the Slack conversation", clickConv("Yes, 10 to 4. Anything else?"))
	waitJS("the Slack conversation in the thread", hasText("#agent-messages .msg.CONSUMER", "Hello from Slack! Is the shop open on Sunday?"))
	transferred, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#thread-head").dataset.id`))
	if err != nil || transferred == "" {
		t.Fatalf("the selected conversation's id: %q, %v", transferred, err)
	}
	step("transfer it to skill 2", chromedp.Click("#agent-transfer"))
	waitJS("the conversation back in the queue", hasText("#thread-head", "skill 2 · in queue"))
	step("write on the Slack phone while nobody is assigned",
		chromedp.SendKeys(slackPhone+" .phone-input", "Still there? I also need a gift receipt."),
		chromedp.Click(slackPhone+" .phone-send"))
	waitJS("the message in the same conversation", fmt.Sprintf(`document.querySelector("#thread-head").dataset.id === %q && %s`,
		transferred, hasText("#agent-messages .msg.CONSUMER", "Still there? I also need a gift receipt.")))
	step("answer as the agent who takes it",
		chromedp.SendKeys("#agent-text", "Sure, a gift receipt is on its way."),
		chromedp.Click("#agent-send"))
	waitJS("the new agent's answer on the Slack phone", hasText(slackPhone+" .bubble.business", "Sure, a gift receipt is on its way."))

	// Some traffic in the list and the metrics makes a livelier picture.
	step("switch traffic on", chromedp.Click("#traffic"))
	waitJS("traffic conversations in the list", `document.querySelectorAll("#conv-list .conv").length >= 4`)
	waitJS("the core's metrics on the page", hasText("#metrics", "messages_in_total"))
	step("switch traffic off", chromedp.Click("#traffic"))

	// A fixed viewport: the window's own leaves the right edge off the picture.
	step("set the screenshot's viewport", chromedp.EmulateViewport(1600, 880))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	screenshotPath := filepath.Join(t.TempDir(), "demo.png")
	if os.Getenv("LECONNECT_UPDATE_SCREENSHOT") == "1" {
		screenshotPath = readmeScreenshot
	}
	if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
		t.Fatalf("save the screenshot: %v", err)
	}
	abs, _ := filepath.Abs(screenshotPath)
	t.Logf("screenshot saved to %s (%d bytes)", abs, len(png))
}
