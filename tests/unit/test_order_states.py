import pytest

from app.domain.errors import DomainError
from app.domain.orders import OrderStatus, check_transition, may_become


def test_a_pending_order_completes_or_fails():
    check_transition("pending", "completed")
    check_transition(OrderStatus.PENDING, OrderStatus.FAILED)


@pytest.mark.parametrize(
    "current, new", [("completed", "failed"), ("failed", "completed"), ("completed", "pending"), ("failed", "pending")]
)
def test_final_states_never_change(current, new):
    with pytest.raises(DomainError):
        check_transition(current, new)


def test_only_scheduled_and_pending_are_not_final():
    assert [s for s in OrderStatus if not s.is_final] == [OrderStatus.SCHEDULED, OrderStatus.PENDING]


def test_only_a_pending_order_may_complete_or_fail():
    assert may_become("completed") == ["pending"]
    assert may_become("failed") == ["pending"]
    assert may_become("pending") == ["scheduled"]  # a scheduled gift's time came
