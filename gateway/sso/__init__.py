"""Single sign-on to the admin console with each tenant's own identity provider: OpenID
Connect (authorization code with PKCE) and, where its libraries are installed, SAML 2.0."""
