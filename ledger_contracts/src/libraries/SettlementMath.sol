// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SettlementMath
/// @notice The fixed-point rules of settlement. Energy is in Wh and prices in micro-units per
/// kWh, so `wh * price` is an amount in thousandths of a base unit ("milli"); it becomes base
/// units only when it is paid: rounded up when a prosumer pays, down when a prosumer is paid,
/// so rounding never creates tokens (the difference is dust that goes to the operator).
/// @dev Callers keep Wh below 2^32 and prices below 2^64 (a unit price with transmission below
/// 2^81), so no product here comes near 2^256.
library SettlementMath {
    uint256 internal constant WH_PER_KWH = 1000;

    /// @dev Sellers' columns of a buyer's bid handled by one item of `fixTrades` or `closeGame`:
    /// a buyer of a game with more sellers counts as several items, so an item's gas is bounded
    /// whatever the game (at most this many trades).
    uint256 internal constant SELLERS_PER_ITEM = 128;

    /// @dev How many items a buyer counts for in a game of `sellers` sellers (at least one).
    function itemsPerBuyer(uint256 sellers) internal pure returns (uint256) {
        return sellers == 0 ? 1 : ceilDiv(sellers, SELLERS_PER_ITEM);
    }

    /// @dev The sellers' columns [from, to) of a buyer's item `part`, within `sellers`.
    function columns(uint256 part, uint256 sellers) internal pure returns (uint256 from, uint256 to) {
        from = part * SELLERS_PER_ITEM;
        to = from + SELLERS_PER_ITEM;
        if (to > sellers) to = sellers;
    }

    /// @dev ceil(a / b), b > 0.
    function ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        // Cannot overflow: a / b + 1 <= a when b > 1, and a / b == a when b == 1.
        unchecked {
            return a == 0 ? 0 : (a - 1) / b + 1;
        }
    }

    /// @dev What a prosumer pays for `wh` Wh at `price` per kWh: rounded up.
    function charge(uint256 wh, uint256 price) internal pure returns (uint256) {
        return ceilDiv(wh * price, WH_PER_KWH);
    }

    /// @dev What a prosumer is paid for `wh` Wh at `price` per kWh: rounded down.
    function credit(uint256 wh, uint256 price) internal pure returns (uint256) {
        return wh * price / WH_PER_KWH;
    }

    /// @dev A demand's escrow: its worst case, `wh` at the retail price plus `maxHop` hops of
    /// transmission, rounded up.
    function escrow(uint256 wh, uint256 retail, uint256 feePerHop, uint256 maxHop) internal pure returns (uint256) {
        return charge(wh, retail + feePerHop * maxHop);
    }

    /// @dev A seller's energy price under its final load: min(p (1 + L / C), g), rounded down to
    /// a micro-unit per kWh. `capacity` > 0.
    function energyPrice(uint256 price, uint256 capacity, uint256 load, uint256 retail)
        internal
        pure
        returns (uint256 unit)
    {
        unit = price * (capacity + load) / capacity;
        if (unit > retail) unit = retail;
    }

    /// @dev The part of a trade of `wh` Wh that one side's meter covers: all of it if the side
    /// metered at least its whole traded energy, else its pro rata share, rounded down, so the
    /// shares of a side's trades never add up to more than it metered.
    function covered(uint256 wh, uint256 tradedWh, uint256 meteredWh) internal pure returns (uint256) {
        return meteredWh >= tradedWh ? wh : wh * meteredWh / tradedWh;
    }

    /// @dev The delivered part of a trade: what both the seller's production and the buyer's
    /// consumption cover.
    function delivered(uint256 wh, uint256 soldWh, uint256 producedWh, uint256 boughtWh, uint256 consumedWh)
        internal
        pure
        returns (uint256)
    {
        uint256 bySeller = covered(wh, soldWh, producedWh);
        uint256 byBuyer = covered(wh, boughtWh, consumedWh);
        return bySeller < byBuyer ? bySeller : byBuyer;
    }
}
