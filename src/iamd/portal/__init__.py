"""The IAM Identity Center access portal (``{base}/start``): sign-in with an identity-store user's
password and MFA, the accounts and roles assigned, temporary credentials, device authorization
and the authorization-code flow of the AWS CLI."""
