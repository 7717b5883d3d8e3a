"""Channel settings pages for workspace admins: the inboxes and their connection state, forms
to add and change email mailboxes, Twilio and Meta accounts and API channels, and a "send
test" per channel whose outcome is kept as the channel's last check."""
