"""SCIM 2.0 provisioning (RFC 7643/7644) into IAM Identity Center's identity store."""
