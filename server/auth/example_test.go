package auth_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/auth"
)

func Example() {
	dataDir, err := os.MkdirTemp("", "strait-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	dir := auth.DefaultDir(dataDir)

	// strait keys
	if _, err := auth.GenerateKey(dir, time.Now()); err != nil {
		log.Fatal(err)
	}

	// strait serve
	keys, err := auth.LoadKeySet(dir, time.Now)
	if err != nil {
		log.Fatal(err)
	}
	token, err := keys.Mint(viewer.Viewer{
		Kind:       viewer.MerchantUser,
		Subject:    "usr_01",
		MerchantID: "mer_01",
		Role:       viewer.RoleAdmin,
	}, 15*time.Minute)
	if err != nil {
		log.Fatal(err)
	}

	v, err := keys.Verify(token)
	fmt.Println(v.Kind, v.MerchantID, v.Role, err)

	_, err = keys.Verify(token + "x")
	fmt.Println(err)
	// Output:
	// merchant_user mer_01 admin <nil>
	// unauthorized: invalid token
}
