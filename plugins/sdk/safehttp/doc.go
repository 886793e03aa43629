// Package safehttp downloads URLs that arrived in messages without letting
// a crafted message turn the connector against the brand's own network
// (server-side request forgery).
//
// A [Downloader] checks each URL, and each redirect, against a [Policy]:
// the schemes and host names the platform uses, and then the address
// actually dialled, so a name that resolves to a loopback, private,
// link-local or unspecified address is refused at connect time, whatever
// it resolved to when the URL was checked (DNS rebinding). Size and time
// are capped. Hosts the operator configured (a platform API base URL, an
// emulator) are trusted by name; other internal networks only when listed
// in the policy.
//
// The core uses it for agents' files and the adapters for consumers'
// media; third-party adapters should use it for any URL a message brings.
package safehttp
