// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";

import {IGridToken} from "./IGridToken.sol";

/// @title GridToken
/// @notice The gridgame settlement token (6 decimals); the operator mints and burns.
contract GridToken is IGridToken, ERC20, Ownable, ERC2771Context {
    /// @param operator Owner: the only account that mints and burns.
    /// @param trustedForwarder The `GridForwarder` relaying signed requests (approvals, transfers).
    constructor(address operator, address trustedForwarder)
        ERC20("gridgame settlement token", "GRID")
        Ownable(operator)
        ERC2771Context(trustedForwarder)
    {}

    /// @notice 6 decimals: one base unit is one micro-unit of the currency.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc IGridToken
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @inheritdoc IGridToken
    function burn(uint256 amount) external onlyOwner {
        _burn(_msgSender(), amount);
    }

    // =============================================================== ERC-2771

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
