"""Which addresses a file has already given, in eight bytes per address: duplicates are found in one pass.

A Python set of a million addresses takes over 100 MB; this open-addressing table of 64-bit hashes takes 16 MB.
Two different addresses share a 64-bit hash with a chance of about 1 in 30 million for a million-row file;
the cost of such a clash is one person skipped as a "duplicate", never one person added without consent.
"""

from array import array

_MASK = (1 << 64) - 1
_START = 1 << 12  # slots; doubled whenever the table is half full


class SeenAddresses:
    """A set of normalised addresses that only answers 'seen before?', with flat memory per address."""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * _START))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, address: str) -> bool:
        """Remember the address; True if it is new, False if the file gave it before."""
        key = hash(address) & _MASK or 1  # 0 marks an empty slot
        slots, last = self._slots, len(self._slots) - 1
        index = key & last
        while slots[index]:
            if slots[index] == key:
                return False
            index = (index + 1) & last
        slots[index] = key
        self._count += 1
        if 2 * self._count > len(slots):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = slots = array("Q", bytes(16 * len(old)))
        last = len(slots) - 1
        for key in old:
            if key:
                index = key & last
                while slots[index]:
                    index = (index + 1) & last
                slots[index] = key
