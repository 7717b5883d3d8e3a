from ascolto.customers import services


def test_customer_create_normalises_identities(workspace, actor):
    customer = services.customer_create(
        workspace=workspace, actor=actor, name="Dana Levi",
        identities=[("email", " Dana@Example.COM "), ("phone", "+972 50-123-4567")],
    )
    values = sorted(customer.identities.values_list("kind", "value"))
    assert values == [("email", "dana@example.com"), ("phone", "+972501234567")]
