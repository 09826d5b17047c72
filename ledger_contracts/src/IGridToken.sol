// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IGridToken
/// @notice The settlement token: an ERC-20 with 6 decimals, so one base unit is one micro-unit of
/// the currency and prices in micro-units per kWh settle without conversion.
/// @dev Only the operator (the owner) creates and destroys tokens; every other movement is an
/// ordinary transfer, so the total supply changes only through {mint} and {burn}. Calls may come
/// through the `GridForwarder` (ERC-2771): a prosumer approves the settlement contract with a
/// signed request and needs no gas.
interface IGridToken is IERC20 {
    /// @notice Creates `amount` base units in `to`'s wallet (a prosumer buying tokens, or the
    /// operator funding grid exports).
    /// @dev Owner only. Emits {Transfer} from the zero address.
    function mint(address to, uint256 amount) external;

    /// @notice Destroys `amount` base units from the operator's own wallet (a prosumer redeeming
    /// tokens first transfers them to the operator).
    /// @dev Owner only. Emits {Transfer} to the zero address.
    function burn(uint256 amount) external;
}
