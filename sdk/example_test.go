package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"

	"golang.org/x/oauth2"

	"github.com/orchestrator/orchestrator/sdk"
)

// A client for a self-hosted server writes and reads conversation context
// with v2 credentials; it logs in on the first call.
func Example() {
	srv := startExampleServer() // a real server on a loopback port
	defer srv.Close()

	ctx := context.Background()
	c, err := sdk.New(sdk.Config{
		BaseURL:   srv.URL, // or Zone: "z1" for the default URLs of a region
		AccountID: srv.AccountID,
		UserID:    srv.UserID,
		Password:  srv.Password,
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.SetDocument(ctx, sdk.DocumentWrite{
		NameSpace: "shop",
		SessionID: "conv-1",
		Payload:   map[string]any{"cart": 3, "tier": "gold"},
	}); err != nil {
		log.Fatal(err)
	}
	props, err := c.GetDocumentProperties(ctx, "shop", "conv-1", "tier")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(props["shop.tier"]))
	// Output: "gold"
}

// The region table gives the default base URLs of a zone.
func ExampleNew_zone() {
	c, err := sdk.New(sdk.Config{Zone: "z2", AccountID: "67005361", UserID: "…", Password: "…"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())
	fmt.Println(c.V1BaseURL())
	fmt.Println(c.NextActionsV1BaseURL())
	// Output:
	// https://z2.ccs.liveperson.net
	// https://z2.context.liveperson.net
	// https://z2.askmaven.liveperson.net
}

// HTTPClient adds the token to requests the typed methods do not cover,
// and logs in again once when the server refuses it.
func ExampleClient_HTTPClient() {
	srv := startExampleServer()
	defer srv.Close()

	c, err := sdk.New(sdk.Config{BaseURL: srv.URL, AccountID: srv.AccountID, UserID: srv.UserID, Password: srv.Password})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.HTTPClient().Get(srv.URL + "/v2/context/document/" + srv.AccountID + "/shop")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.StatusCode) // authenticated; the namespace has no document yet
	// Output: 404
}

// TokenSource plugs the cached token into golang.org/x/oauth2.
func ExampleClient_TokenSource() {
	srv := startExampleServer()
	defer srv.Close()

	c, err := sdk.New(sdk.Config{BaseURL: srv.URL, UserID: srv.UserID, Password: srv.Password})
	if err != nil {
		log.Fatal(err)
	}
	hc := oauth2.NewClient(context.Background(), c.TokenSource())
	resp, err := hc.Get(srv.URL + "/v2/context/document/" + srv.AccountID + "/shop")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 404
}

// v1 calls use the API key and never log in.
func ExampleClient_GetProperty() {
	srv := startExampleServer()
	defer srv.Close()

	ctx := context.Background()
	c, err := sdk.New(sdk.Config{BaseURL: srv.URL, AccountID: srv.AccountID, APIKey: srv.APIKey})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.PutProperty(ctx, "shop", "", "greeting", map[string]string{"text": "hi"}); err != nil {
		log.Fatal(err)
	}
	v, err := c.GetProperty(ctx, "shop", "", "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v))
	// Output: {"text":"hi"}
}

// Errors of the server are *sdk.APIError.
func ExampleAPIError() {
	srv := startExampleServer()
	defer srv.Close()

	c, err := sdk.New(sdk.Config{BaseURL: srv.URL, AccountID: srv.AccountID, APIKey: srv.APIKey})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetProperty(context.Background(), "shop", "", "missing")
	var ae *sdk.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.Status)
	}
	// Output: 404
}

// Policies decide the next actions of a conversation from its context.
func ExampleClient_NextActions() {
	srv := startExampleServer()
	defer srv.Close()

	ctx := context.Background()
	c, err := sdk.New(sdk.Config{BaseURL: srv.URL, AccountID: srv.AccountID, UserID: srv.UserID, Password: srv.Password})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreatePolicy(ctx, sdk.Policy{
		Name:    "VIP to the VIP skill",
		Enabled: new(true),
		Conditions: []sdk.Condition{
			{Property: "shop.tier", Type: "EQUAL", Value: json.RawMessage(`"gold"`)},
		},
		Actions: []sdk.Action{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":"vip"}`)}},
	}); err != nil {
		log.Fatal(err)
	}
	// The conversation's session in the Context Service holds its tier.
	if _, err := c.SetDocument(ctx, sdk.DocumentWrite{NameSpace: "shop", SessionID: "conv-1", Payload: map[string]any{"tier": "gold"}}); err != nil {
		log.Fatal(err)
	}
	actions, err := c.NextActions(ctx, sdk.NextActionsRequest{ConversationID: "conv-1"})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range actions {
		fmt.Println(a.Type, string(a.Payload))
	}
	// Output: TRANSFER_TO_SKILL {"skillId":"vip"}
}
